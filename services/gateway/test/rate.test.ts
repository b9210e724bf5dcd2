/**
 * The per-device rate limit of a live client, on a fake clock: exact intervals,
 * the latest wins, the last one held is delivered when the device goes quiet.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { DeviceRateLimiter, OFFER } from '../src/rate.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function limiter(maxRate: number): { gate: DeviceRateLimiter<string>; released: [number, string, string][] } {
  const released: [number, string, string][] = [];
  const gate = new DeviceRateLimiter<string>(maxRate, (device, item) => released.push([Date.now() - 1_000_000, device, item]), () => Date.now());
  return { gate, released };
}

it('lets the first message of a device through, holds the next ones, and releases only the latest, one interval after the last sent', () => {
  const { gate, released } = limiter(2); // 500 ms
  expect(gate.offer('a', 'a0')).toBe(OFFER.now);
  vi.advanceTimersByTime(100);
  expect(gate.offer('a', 'a1')).toBe(OFFER.held);
  vi.advanceTimersByTime(100);
  expect(gate.offer('a', 'a2')).toBe(OFFER.superseded);
  expect(gate.offer('a', 'a3')).toBe(OFFER.superseded);
  vi.advanceTimersByTime(299);
  expect(released).toEqual([]);
  vi.advanceTimersByTime(1);
  // the device went quiet: its latest still arrives, 500 ms after a0
  expect(released).toEqual([[500, 'a', 'a3']]);
  vi.advanceTimersByTime(10_000);
  expect(released).toHaveLength(1);
});

it('keeps devices apart', () => {
  const { gate, released } = limiter(10); // 100 ms
  expect(gate.offer('a', 'a0')).toBe(OFFER.now);
  expect(gate.offer('a', 'a1')).toBe(OFFER.held);
  vi.advanceTimersByTime(50);
  expect(gate.offer('b', 'b0')).toBe(OFFER.now);
  expect(gate.offer('b', 'b1')).toBe(OFFER.held);
  vi.advanceTimersByTime(50);
  expect(released).toEqual([[100, 'a', 'a1']]);
  vi.advanceTimersByTime(50);
  expect(released).toEqual([
    [100, 'a', 'a1'],
    [150, 'b', 'b1'],
  ]);
});

it('never sends a device faster than its rate under a steady stream, and sends its last', () => {
  const { gate, released } = limiter(4); // 250 ms
  const sentNow: number[] = [];
  for (let t = 0; t < 2000; t += 10) {
    if (gate.offer('a', `a${t}`) === OFFER.now) sentNow.push(t);
    vi.advanceTimersByTime(10);
  }
  vi.advanceTimersByTime(1000);
  const times = [...sentNow, ...released.map(([t]) => t)].sort((x, y) => x - y);
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(250);
  expect(times.length).toBeGreaterThanOrEqual(8);
  expect(released.at(-1)![2]).toBe('a1990');
});

it('forgets idle devices on sweep, and everything on clear', () => {
  const { gate, released } = limiter(1);
  gate.offer('a', 'a0');
  gate.offer('b', 'b0');
  gate.offer('b', 'b1');
  vi.advanceTimersByTime(999);
  gate.sweep();
  expect(gate.size).toBe(2);
  vi.advanceTimersByTime(1);
  gate.sweep();
  // b's b1 went out at 1000: b is inside its interval again, a is idle
  expect(gate.size).toBe(1);
  gate.offer('b', 'b2');
  gate.clear();
  vi.advanceTimersByTime(5000);
  expect(released.map(([, , item]) => item)).toEqual(['b1']);
  expect(gate.size).toBe(0);
});
