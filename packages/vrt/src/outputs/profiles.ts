/**
 * Terminal export profiles: what format a family of in-cab terminals takes a
 * prescription in, and the limits it is known (or, where marked, assumed) to
 * have. A prescription is checked against its profile before anything is
 * written for it; README.outputs-terminal.md lists the profiles with sources.
 */
import { VrtError } from '../errors.ts';

/** A family of terminals: the format it reads and the limits it has. */
export interface TerminalProfile {
  readonly id: string;
  readonly label: string;
  readonly format: 'isoxml' | 'shapefile';
  /** Unit of the rates the terminal is given. */
  readonly unit: 'kg/ha';
  /** Most management zones (one Shapefile feature each) the terminal takes. */
  readonly maxZones?: number;
  /** Shapefile: the DBF column the terminal reads the rate from. */
  readonly rateField?: string;
  /** Longest name the terminal keeps: DBF column names for Shapefiles, designators (task, field, product, farm) for ISOXML. */
  readonly maxFieldNameLength?: number;
  /** Largest file (the zip as delivered) the terminal or its transfer path takes. */
  readonly maxFileBytes?: number;
  /** Highest rate, kg/ha, the terminal can carry. */
  readonly maxRate?: number;
  /** ISOXML: most grid cells (columns × rows) the terminal loads. */
  readonly maxGridCells?: number;
  /** ISOXML: the version written for this terminal. */
  readonly isoxmlVersion?: 3 | 4;
  /** Shapefile: the terminal needs 8.3 file names (base name of 1–8 of A–Z, 0–9, `_`). */
  readonly fileNames83?: boolean;
  /** Where the limits come from. */
  readonly sources: readonly string[];
  /** The limits (property names) that are hatake's assumptions rather than documented. */
  readonly assumed: readonly (keyof TerminalProfile)[];
}

/** What a prescription would put on a terminal, as `profileRefusals` checks it. */
export interface ProfileCandidate {
  /** Number of management zones (Shapefile features). */
  zones: number;
  /** Names the output carries: DBF column names for Shapefiles, designators for ISOXML. */
  fieldNames: string[];
  /** Size of the output file, if already known. */
  bytes?: number;
  /** Highest rate, kg/ha. */
  maxRate: number;
  /** ISOXML grid cells (columns × rows), if known. */
  gridCells?: number;
  /** Shapefile base name, if known. */
  baseName?: string;
}

/** dBase III field names: 11 bytes with the terminating NUL (ESRI Shapefile Technical Description, DBF). */
const DBF_NAME_LENGTH = 10;
/** ISO 11783-10 XML schema: TaskDesignator, PartfieldDesignator, ProductDesignator, FarmDesignator are strings of at most 32. */
const ISO_DESIGNATOR_LENGTH = 32;
/** DDI 6 is an int32 in mg/m² (ISO 11783-11); 1 kg/ha = 100 mg/m². */
const DDI6_MAX_KG_HA = Math.floor((2 ** 31 - 1) / 100);
const MIB = 1024 * 1024;
const BASE_NAME_83 = /^[A-Z0-9_]{1,8}$/;

const SRC = {
  dbf: 'ESRI Shapefile Technical Description (1998): dBase attribute table, field names of at most 10 characters',
  iso10: 'ISO 11783-10 XML schema: designators at most 32 characters; GRD type 2 holds one int32 per cell (also checked by the isoxml_dart library\'s ArgumentValidation, designator maxLength 32)',
  ddi6: 'ISO 11783-11 DDI 6 Setpoint Mass Per Area Application Rate: int32, 1 mg/m² per bit',
  raven: 'Raven CRX/Viper help, "Load a Prescription Map": .shp/.shx/.dbf polygon Shapefile per the ESRI specification, WGS84 datum, no sub-folders',
  trimble: 'Trimble FM-1000 User Guide v9.25 §4: reads ESRI ArcView 2D polygons (no M/Z types); Shapefile prescriptions go to \\AgGPS\\Prescriptions\\',
  numeric: 'Väderstad Seed Hawk iCon manual: Shapefile version 1000, shape type Polygon (5), rate columns of DBF type Numeric (N)',
  agfusion: 'Agrotax AgFusion manual §11.3: 8.3 file names, at most 100 areas and 250 KB — an example of the tight limits of older terminals',
} as const;

/** The terminal profiles hatake knows, by id. */
export const TERMINAL_PROFILES: Readonly<Record<string, TerminalProfile>> = Object.freeze({
  isobus: {
    id: 'isobus',
    label: 'Generic ISOBUS TC-GEO (ISOXML v4, type-2 grid)',
    format: 'isoxml',
    unit: 'kg/ha',
    isoxmlVersion: 4,
    maxFieldNameLength: ISO_DESIGNATOR_LENGTH,
    maxRate: DDI6_MAX_KG_HA,
    maxGridCells: 1_000_000,
    sources: [SRC.iso10, SRC.ddi6],
    assumed: ['maxGridCells'],
  },
  'isobus-v3': {
    id: 'isobus-v3',
    label: 'ISOBUS TC-GEO on older terminals (ISOXML v3, type-2 grid)',
    format: 'isoxml',
    unit: 'kg/ha',
    isoxmlVersion: 3,
    maxFieldNameLength: ISO_DESIGNATOR_LENGTH,
    maxRate: DDI6_MAX_KG_HA,
    maxGridCells: 1_000_000,
    sources: [SRC.iso10, SRC.ddi6],
    assumed: ['maxGridCells'],
  },
  raven: {
    id: 'raven',
    label: 'Raven Viper 4 / CR7 style (Shapefile)',
    format: 'shapefile',
    unit: 'kg/ha',
    rateField: 'RATE',
    maxFieldNameLength: DBF_NAME_LENGTH,
    fileNames83: true,
    maxZones: 100,
    maxFileBytes: 10 * MIB,
    sources: [SRC.raven, SRC.dbf, SRC.numeric],
    assumed: ['fileNames83', 'maxZones', 'maxFileBytes'],
  },
  trimble: {
    id: 'trimble',
    label: 'Trimble GFX / TMX style (Shapefile)',
    format: 'shapefile',
    unit: 'kg/ha',
    rateField: 'RATE',
    maxFieldNameLength: DBF_NAME_LENGTH,
    maxZones: 100,
    maxFileBytes: 10 * MIB,
    sources: [SRC.trimble, SRC.dbf, SRC.numeric],
    assumed: ['maxZones', 'maxFileBytes'],
  },
  'john-deere': {
    id: 'john-deere',
    label: 'John Deere Gen4 style (Shapefile)',
    format: 'shapefile',
    unit: 'kg/ha',
    rateField: 'RATE',
    maxFieldNameLength: DBF_NAME_LENGTH,
    maxZones: 100,
    maxFileBytes: 10 * MIB,
    sources: [SRC.dbf, SRC.numeric],
    assumed: ['maxZones', 'maxFileBytes'],
  },
  'generic-shapefile': {
    id: 'generic-shapefile',
    label: 'Generic Shapefile (any GIS or terminal)',
    format: 'shapefile',
    unit: 'kg/ha',
    rateField: 'RATE',
    maxFieldNameLength: DBF_NAME_LENGTH,
    fileNames83: true,
    sources: [SRC.dbf, SRC.agfusion],
    assumed: [],
  },
} satisfies Record<string, TerminalProfile>);

/** The profile with this id, or HATAKE_ERR_VRT_PARAMS naming the ids there are. */
export function terminalProfile(id: string): TerminalProfile {
  const profile = Object.hasOwn(TERMINAL_PROFILES, id) ? TERMINAL_PROFILES[id] : undefined;
  if (!profile) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `terminal profile "${id}" is unknown; the profiles are ${Object.keys(TERMINAL_PROFILES).join(', ')}`);
  return profile;
}

/** Every reason the prescription cannot go to this terminal, each a sentence naming the limit and the value (empty when it can). */
export function profileRefusals(profile: TerminalProfile, candidate: ProfileCandidate): string[] {
  const out: string[] = [];
  const who = profile.label;
  if (profile.maxZones !== undefined && candidate.zones > profile.maxZones) {
    out.push(`The prescription has ${candidate.zones} zones, but ${who} takes at most ${profile.maxZones}.`);
  }
  if (profile.maxFieldNameLength !== undefined) {
    const max = profile.maxFieldNameLength;
    for (const name of candidate.fieldNames) {
      if (name.length > max) out.push(`The name "${name}" has ${name.length} characters, but ${who} keeps names of at most ${max}.`);
    }
  }
  if (profile.format === 'shapefile' && profile.rateField !== undefined && !candidate.fieldNames.includes(profile.rateField)) {
    out.push(`${who} reads the rate from a column named ${profile.rateField}, but the Shapefile's columns are ${candidate.fieldNames.join(', ') || 'none'}.`);
  }
  if (profile.maxFileBytes !== undefined && candidate.bytes !== undefined && candidate.bytes > profile.maxFileBytes) {
    out.push(`The file is ${candidate.bytes} bytes, but ${who} takes files of at most ${profile.maxFileBytes} bytes.`);
  }
  if (!Number.isFinite(candidate.maxRate) || candidate.maxRate < 0) {
    out.push(`The highest rate, ${candidate.maxRate} ${profile.unit}, is not a rate ${who} can apply.`);
  } else if (profile.maxRate !== undefined && candidate.maxRate > profile.maxRate) {
    out.push(`The highest rate is ${candidate.maxRate} ${profile.unit}, but ${who} carries at most ${profile.maxRate} ${profile.unit}.`);
  }
  if (profile.maxGridCells !== undefined && candidate.gridCells !== undefined && candidate.gridCells > profile.maxGridCells) {
    out.push(`The ISOXML grid has ${candidate.gridCells} cells, but ${who} loads at most ${profile.maxGridCells}.`);
  }
  if (profile.fileNames83 && candidate.baseName !== undefined && !BASE_NAME_83.test(candidate.baseName)) {
    out.push(`The file name "${candidate.baseName}" is not an 8.3 name (1–8 of A–Z, 0–9, _), which ${who} needs.`);
  }
  return out;
}

/** Throws HATAKE_ERR_VRT_PROFILE listing every refusal, if there is any. */
export function assertProfileAccepts(profile: TerminalProfile, candidate: ProfileCandidate): void {
  const refusals = profileRefusals(profile, candidate);
  if (refusals.length > 0) throw new VrtError('HATAKE_ERR_VRT_PROFILE', `${profile.label} cannot take this prescription: ${refusals.join(' ')}`);
}
