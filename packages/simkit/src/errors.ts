/**
 * Typed errors of the simulators (`HATAKE_ERR_SIM_*`), matched by `err.code`.
 */
export const SIM_ERRORS = {
  HATAKE_ERR_SIM_FAULT_SPEC: 'a --faults specification does not parse',
  HATAKE_ERR_SIM_NO_SECRET: 'a selected device has no password in the secrets file',
  HATAKE_ERR_SIM_NO_DEVICES: 'the selection (--only, --kinds, --synthetic) matches no device, or names unknown ones',
  HATAKE_ERR_SIM_NO_MODEL: 'the runner has no model for a selected device kind',
  HATAKE_ERR_SIM_COVERAGE: 'a field is too small for the tractor\'s implement and headland',
  HATAKE_ERR_SIM_ROUTE: 'a plow route names a road the network does not have',
  HATAKE_ERR_SIM_PATH: 'a path to drive has no length',
  HATAKE_ERR_SIM_DEVICE_CONFIG: 'a configured device lacks what its simulator needs (a field, a route, a location)',
} as const;
export type SimErrorCode = keyof typeof SIM_ERRORS;

/** An error with a stable `code`. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}
