import { describe, expect, it } from 'vitest';
import { Decoder, telemetryTopic } from '@hatake/protocol';
import { Rng } from '@hatake/simkit';
import { SensorModel, clearSkySolar } from '@hatake/sensor';

const LOCATION = [141.7022, 43.2325] as const;

function day(startUtc: number, seed: number, days = 1) {
  const model = new SensorModel({ location: LOCATION }, new Rng(seed, 's-kita-1'));
  const out = [];
  for (let i = 0; i < days * 1440; i++) {
    const t = startUtc + (i + 1) * 60_000;
    out.push({ t, hourJst: (new Date(t).getUTCHours() + 9) % 24, s: model.step(60, t) });
  }
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('field station', () => {
  // 15 July 2026, 00:00 JST
  const july = Date.UTC(2026, 6, 14, 15, 0, 0);
  const january = Date.UTC(2026, 0, 14, 15, 0, 0);

  it('follows the day: warm afternoons, cool humid nights, sun only by day', () => {
    for (const seed of [1, 2, 3]) {
      const d = day(july, seed, 3);
      const at = (h0: number, h1: number) => d.filter((x) => x.hourJst >= h0 && x.hourJst < h1).map((x) => x.s);
      expect(mean(at(13, 16).map((s) => s.airTemp!))).toBeGreaterThan(mean(at(3, 5).map((s) => s.airTemp!)) + 3);
      expect(mean(at(3, 5).map((s) => s.humidity!))).toBeGreaterThan(mean(at(13, 16).map((s) => s.humidity!)));
      expect(at(0, 2).every((s) => s.solar === 0)).toBe(true);
      expect(Math.max(...at(10, 14).map((s) => s.solar!))).toBeGreaterThan(150);
      // midsummer in Iwamizawa
      expect(mean(d.map((x) => x.s.airTemp!))).toBeGreaterThan(12);
      expect(mean(d.map((x) => x.s.airTemp!))).toBeLessThan(30);
    }
  });

  it('keeps soil and battery within physical bounds, rain never negative', () => {
    const d = day(july, 5, 7);
    for (const { s } of d) {
      expect(s.soilMoisture!).toBeGreaterThanOrEqual(7.5);
      expect(s.soilMoisture!).toBeLessThanOrEqual(48.5);
      expect(s.rain!).toBeGreaterThanOrEqual(0);
      expect(s.battery!).toBeGreaterThan(3.4);
      expect(s.battery!).toBeLessThan(4.2);
    }
    // the soil lags the air: its daily swing is smaller
    const swing = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    const firstDay = d.slice(0, 1440).map((x) => x.s);
    expect(swing(firstDay.map((s) => s.soilTemp!))).toBeLessThan(swing(firstDay.map((s) => s.airTemp!)));
  });

  it('wets the soil when it rains', () => {
    // across many seeded weeks, soil moisture rises during rain spells
    let rises = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const d = day(july, seed, 7);
      for (let i = 60; i < d.length; i++) {
        const lastHourRain = d.slice(i - 60, i).reduce((a, x) => a + x.s.rain!, 0);
        if (lastHourRain > 1 && d[i]!.s.soilMoisture! > d[i - 60]!.s.soilMoisture!) rises++;
      }
    }
    expect(rises).toBeGreaterThan(0);
  });

  it('winter: frost, and the soil held near freezing under snow', () => {
    const d = day(january, 4, 3);
    expect(mean(d.map((x) => x.s.airTemp!))).toBeLessThan(0);
    expect(Math.min(...d.slice(1440).map((x) => x.s.soilTemp!))).toBeGreaterThanOrEqual(-1.5);
  });

  it('puts the sun where it belongs', () => {
    // solar noon at 141.8° E is about 11:33 JST; midnight is dark; winter noon is lower than summer noon
    expect(clearSkySolar(Date.UTC(2026, 6, 15, 2, 33), 43.2, 141.8)).toBeGreaterThan(850);
    expect(clearSkySolar(Date.UTC(2026, 6, 15, 15, 0), 43.2, 141.8)).toBe(0);
    expect(clearSkySolar(Date.UTC(2026, 0, 15, 2, 33), 43.2, 141.8)).toBeLessThan(450);
  });

  it('is deterministic, valid, and reports no position during a GNSS dropout', () => {
    const a = day(july, 11).map((x) => x.s);
    expect(day(july, 11).map((x) => x.s)).toEqual(a);
    expect(day(july, 12).map((x) => x.s)).not.toEqual(a);
    const decoder = new Decoder();
    const bad = a.map((s, seq) => decoder.decode(telemetryTopic('sensor', 's1'), Buffer.from(JSON.stringify({ v: 1, t: july + seq * 60_000, seq, ...s })))).filter((r) => !r.ok);
    expect(bad).toEqual([]);
    const model = new SensorModel({ location: LOCATION }, new Rng(1, 's'));
    model.gnssDropout(120);
    const s = model.step(60, july);
    expect(s.fix).toBe('none');
    expect(s.lat).toBeUndefined();
    expect(decoder.decode(telemetryTopic('sensor', 's1'), Buffer.from(JSON.stringify({ v: 1, t: july, seq: 0, ...s }))).ok).toBe(true);
  });
});
