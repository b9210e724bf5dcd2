/**
 * What the gateway does for a tractor under remote supervision, for tests that drive the model directly:
 * a heartbeat once a simulated second, as `gateway.commands.heartbeatMs` does by default.
 */
import type { TractorModel } from '@hatake/tractor';

/** Steps the model by `dt` and beats the heartbeat whenever a whole simulated second has passed. */
export function supervisedStep(model: TractorModel, dt = 0.2): ReturnType<TractorModel['step']> {
  const sample = model.step(dt);
  const state = beats.get(model) ?? { clockS: 0, nextBeatS: 0 };
  state.clockS += dt;
  if (state.clockS >= state.nextBeatS - 1e-9) {
    model.heartbeat(state.clockS * 1000);
    state.nextBeatS += 1;
  }
  beats.set(model, state);
  return sample;
}

const beats = new WeakMap<TractorModel, { clockS: number; nextBeatS: number }>();
