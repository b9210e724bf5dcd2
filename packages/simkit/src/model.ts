/**
 * The contract between a device's behaviour (a pure, stepwise model that
 * knows nothing of MQTT) and the runtime that puts it on the network.
 */
import type { Command, DeviceKind, EventType, PlowSample, SensorSample, Severity, TractorMode, TractorSample } from '@hatake/protocol';

/** A sample as the model produces it; the runtime adds device time and sequence number. */
export type SampleBody<K extends DeviceKind> = Omit<K extends 'tractor' ? TractorSample : K extends 'plow' ? PlowSample : SensorSample, 't' | 'seq'>;

export interface ModelEvent {
  readonly type: EventType;
  readonly severity: Severity;
  readonly message?: string;
  readonly lat?: number;
  readonly lon?: number;
  readonly data?: Readonly<Record<string, number | string | boolean>>;
}

export interface CommandOutcome {
  readonly status: 'accepted' | 'rejected';
  readonly reason?: string;
  /** For accepted commands: true once the command has been carried out (polled every step). */
  readonly done?: () => boolean;
  /** For accepted commands: why it can no longer be carried out (interrupted by another command, say), else undefined (polled every step, before `done`). */
  readonly failed?: () => string | undefined;
}

export interface DeviceModel<K extends DeviceKind> {
  readonly kind: K;
  /** Simulated time between samples, ms. */
  readonly periodMs: number;
  /** Advances the model by `dtS` simulated seconds; returns the sample at the end of the step. */
  step(dtS: number, simTimeMs: number): SampleBody<K>;
  /** Events raised since the last call. */
  drainEvents(): ModelEvent[];
  /** Operating mode, for the retained state (tractors). */
  mode?(): TractorMode;
  /** Carries out a command that passed validation, expiry and duplicate checks. */
  command?(cmd: Command): CommandOutcome;
  /** Starts a GNSS dropout (fault). */
  gnssDropout(seconds: number): void;
  /** A valid supervisor heartbeat arrived; `simTimeMs` is the simulated time of the last step. */
  heartbeat?(simTimeMs: number): void;
  /** Starts drifting sideways at `metresPerSecond` while moving (fault `drift`); models that do not move leave it out. */
  lateralDrift?(metresPerSecond: number): void;
}
