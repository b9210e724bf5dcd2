/**
 * An accepted command ends `completed` — or `failed` with a reason when the
 * machine can no longer carry it out (interrupted by another command).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { findField, loadConfig } from '@hatake/config';
import type { Command } from '@hatake/protocol';
import { Rng, type CommandOutcome } from '@hatake/simkit';
import { TractorModel } from '@hatake/tractor';
import { supervisedStep } from './supervisor.ts';

const config = await loadConfig({ file: resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml'), requireCredentials: false });
const device = config.devices.find((d) => d.kind === 'tractor' && d.group === undefined && d.home !== undefined)!;
const tractor = (): TractorModel =>
  new TractorModel({ field: findField(config, device.farm!, device.field!)!.boundary, spec: device.tractor!, home: device.home! }, new Rng(3, device.id));
const cmd = (type: Command['type']): Command => ({ v: 1, id: `c-${type}`, type, issuer: 'op', issuedAt: 0, expiresAt: 1 });

/** Steps until the outcome is decided: 'completed', a failure reason, or undefined after `steps`. */
function decide(model: TractorModel, outcome: CommandOutcome, steps: number, between?: (i: number) => void): string | undefined {
  for (let i = 0; i < steps; i++) {
    between?.(i);
    supervisedStep(model);
    const failure = outcome.failed?.();
    if (failure !== undefined) return failure;
    if (outcome.done?.()) return 'completed';
  }
  return undefined;
}

it('return_home completes at home, and fails with a reason when stopped on the way', () => {
  const home = tractor();
  for (let i = 0; i < 50; i++) supervisedStep(home);
  const going = home.command(cmd('return_home'));
  expect(going.status).toBe('accepted');
  expect(decide(home, going, 20_000)).toBe('completed');

  const interrupted = tractor();
  for (let i = 0; i < 50; i++) supervisedStep(interrupted);
  const again = interrupted.command(cmd('return_home'));
  const result = decide(interrupted, again, 20_000, (i) => {
    if (i === 20) expect(interrupted.command({ ...cmd('stop'), id: 'c-stop-2' }).status).toBe('accepted');
  });
  expect(result).toBe('interrupted on the way home: stopped');
});

it('a pause resumed before the machine stood still fails; one left alone completes', () => {
  const m = tractor();
  for (let i = 0; i < 200; i++) supervisedStep(m);
  const pause = m.command(cmd('pause'));
  expect(decide(m, pause, 3, () => undefined)).toBeUndefined(); // still braking
  expect(m.command(cmd('resume')).status).toBe('accepted');
  expect(decide(m, pause, 1)).toBe('resumed before it stood still');

  const calm = tractor();
  for (let i = 0; i < 200; i++) supervisedStep(calm);
  expect(decide(calm, calm.command(cmd('pause')), 200)).toBe('completed');
});
