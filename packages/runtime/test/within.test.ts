import { afterEach, expect, it, vi } from 'vitest';
import { settledWithin } from '@hatake/runtime';

afterEach(() => vi.useRealTimers());

it('says whether the work settled in time, counting a rejection as settled, and leaves no timer', async () => {
  vi.useFakeTimers();
  expect(await settledWithin(Promise.resolve(1), 1000)).toBe(true);
  expect(await settledWithin(Promise.reject(new Error('no')), 1000)).toBe(true);
  let finish!: () => void;
  const slow = settledWithin(new Promise<void>((r) => (finish = r)), 1000);
  await vi.advanceTimersByTimeAsync(999);
  finish();
  expect(await slow).toBe(true);
  const never = settledWithin(new Promise(() => undefined), 1000);
  await vi.advanceTimersByTimeAsync(1000);
  expect(await never).toBe(false);
  expect(vi.getTimerCount()).toBe(0);
});
