import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { TRACKS_ERRORS } from '@hatake/tracks';

it('the README lists every error code, and only those', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  expect([...readme.matchAll(/^\| `(HATAKE_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort()).toEqual(Object.keys(TRACKS_ERRORS).sort());
});
