/**
 * Keeps a workspace README's error table and its code in step.
 */
import { readFileSync } from 'node:fs';

/** The `HATAKE_ERR_*` codes listed in the first column of a README table. */
export function documentedErrorCodes(readmePath: string): string[] {
  const text = readFileSync(readmePath, 'utf8');
  return [...text.matchAll(/^\| `(HATAKE_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]!).sort();
}
