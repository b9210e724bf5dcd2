import { describe, expect, it } from 'vitest';
import { type ProfileCandidate, type TerminalProfile, TERMINAL_PROFILES, assertProfileAccepts, profileRefusals, terminalProfile } from '../src/outputs/profiles.ts';

/** A prescription every profile takes: 5 zones, the Shapefile's DBF columns or ISOXML designators, 40 KB, 180 kg/ha. */
function fits(profile: TerminalProfile): ProfileCandidate {
  return profile.format === 'shapefile'
    ? { zones: 5, fieldNames: ['ZONE', 'RATE', 'AREA_HA'], bytes: 40_000, maxRate: 180, baseName: 'RX_NORTH' }
    : { zones: 5, fieldNames: ['N top-dress 2025', 'North 7', 'Urea 46-0-0'], bytes: 40_000, maxRate: 180, gridCells: 20_000 };
}

const raven = TERMINAL_PROFILES['raven']!;
const isobus = TERMINAL_PROFILES['isobus']!;

describe('terminal profiles', () => {
  it('has the six profiles, each under its own id, in kg/ha, with the ISOXML version or the rate column its format needs', () => {
    expect(Object.keys(TERMINAL_PROFILES).sort()).toEqual(['generic-shapefile', 'isobus', 'isobus-v3', 'john-deere', 'raven', 'trimble']);
    for (const [id, p] of Object.entries(TERMINAL_PROFILES)) {
      expect(p.id).toBe(id);
      expect(p.unit).toBe('kg/ha');
      expect(p.sources.length).toBeGreaterThan(0);
      for (const key of p.assumed) expect(p[key], `${id}.${key}`).toBeDefined();
      if (p.format === 'isoxml') expect([3, 4]).toContain(p.isoxmlVersion);
      else expect(p.rateField!.length).toBeLessThanOrEqual(10);
    }
    expect(TERMINAL_PROFILES['isobus']!.isoxmlVersion).toBe(4);
    expect(TERMINAL_PROFILES['isobus-v3']!.isoxmlVersion).toBe(3);
  });

  it.each(Object.keys(TERMINAL_PROFILES))('%s takes a prescription within its limits', (id) => {
    const p = terminalProfile(id);
    expect(profileRefusals(p, fits(p))).toEqual([]);
    expect(() => assertProfileAccepts(p, fits(p))).not.toThrow();
  });

  it('refuses too many zones, naming the limit and the count', () => {
    expect(profileRefusals(raven, { ...fits(raven), zones: 101 })).toEqual([`The prescription has 101 zones, but ${raven.label} takes at most 100.`]);
    expect(profileRefusals(raven, { ...fits(raven), zones: 100 })).toEqual([]);
  });

  it('refuses a DBF column name over 10 characters', () => {
    expect(profileRefusals(raven, { ...fits(raven), fieldNames: ['ZONE', 'RATE', 'AREA_HECTARE'] })).toEqual([`The name "AREA_HECTARE" has 12 characters, but ${raven.label} keeps names of at most 10.`]);
  });

  it('refuses an ISOXML designator over 32 characters', () => {
    const name = 'North field by the river, east half';
    expect(profileRefusals(isobus, { ...fits(isobus), fieldNames: [name] })).toEqual([`The name "${name}" has ${name.length} characters, but ${isobus.label} keeps names of at most 32.`]);
  });

  it('refuses a Shapefile without the rate column the terminal reads', () => {
    expect(profileRefusals(raven, { ...fits(raven), fieldNames: ['ZONE', 'N_KGHA', 'AREA_HA'] })).toEqual([`${raven.label} reads the rate from a column named RATE, but the Shapefile's columns are ZONE, N_KGHA, AREA_HA.`]);
  });

  it('refuses a file over the size limit', () => {
    expect(profileRefusals(raven, { ...fits(raven), bytes: 10 * 1024 * 1024 + 1 })).toEqual([`The file is 10485761 bytes, but ${raven.label} takes files of at most 10485760 bytes.`]);
    expect(profileRefusals(raven, { ...fits(raven), bytes: 10 * 1024 * 1024 })).toEqual([]);
  });

  it('refuses a rate above the terminal\'s maximum, and a rate that is not one', () => {
    expect(profileRefusals(isobus, { ...fits(isobus), maxRate: 30_000_000 })).toEqual([`The highest rate is 30000000 kg/ha, but ${isobus.label} carries at most 21474836 kg/ha.`]);
    expect(profileRefusals(raven, { ...fits(raven), maxRate: Number.NaN })).toEqual([`The highest rate, NaN kg/ha, is not a rate ${raven.label} can apply.`]);
  });

  it('refuses an ISOXML grid with more cells than the terminal loads', () => {
    expect(profileRefusals(isobus, { ...fits(isobus), gridCells: 1_000_001 })).toEqual([`The ISOXML grid has 1000001 cells, but ${isobus.label} loads at most 1000000.`]);
  });

  it('refuses a base name that is not 8.3 where the terminal needs 8.3 names', () => {
    expect(profileRefusals(raven, { ...fits(raven), baseName: 'north_field' })).toEqual([`The file name "north_field" is not an 8.3 name (1–8 of A–Z, 0–9, _), which ${raven.label} needs.`]);
    const trimble = TERMINAL_PROFILES['trimble']!;
    expect(profileRefusals(trimble, { ...fits(trimble), baseName: 'north_field' })).toEqual([]);
  });

  it('gives every reason at once, and assertProfileAccepts throws them as HATAKE_ERR_VRT_PROFILE', () => {
    const bad = { ...fits(raven), zones: 300, bytes: 50_000_000, fieldNames: ['ZONE', 'RATE', 'AREA_HECTARE'] };
    expect(profileRefusals(raven, bad)).toHaveLength(3);
    expect(() => assertProfileAccepts(raven, bad)).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_PROFILE', exitCode: 3, message: expect.stringMatching(/300 zones.*AREA_HECTARE.*50000000 bytes/) }));
  });

  it('names the known profiles for an unknown id', () => {
    expect(() => terminalProfile('agleader')).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_PARAMS', message: expect.stringMatching(/"agleader" is unknown; the profiles are isobus, isobus-v3, raven/) }));
    expect(() => terminalProfile('toString')).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_PARAMS' }));
  });
});
