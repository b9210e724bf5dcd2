/**
 * Typed errors of the config package (`HATAKE_ERR_CONFIG_*`), matched by `err.code`.
 */
import type { ConfigIssue } from './geo.ts';

export const CONFIG_ERRORS = {
  HATAKE_ERR_CONFIG_INVALID: 'the configuration has errors; `issues` lists every one',
  HATAKE_ERR_CONFIG_WRITE: 'a local state file (credentials, demo secrets) could not be written',
} as const;
export type ConfigErrorCode = keyof typeof CONFIG_ERRORS;

/** Every problem found while loading the configuration, reported at once. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];
  constructor(code: ConfigErrorCode, issues: readonly ConfigIssue[], summary?: string) {
    const head = summary ?? `hatake configuration has ${issues.length} error${issues.length === 1 ? '' : 's'}`;
    super([head, ...issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`)].join('\n'));
    this.name = 'ConfigError';
    this.code = code;
    this.issues = issues;
  }
}
