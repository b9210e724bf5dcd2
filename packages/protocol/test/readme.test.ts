import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_ERRORS, renderFieldTable } from '@hatake/protocol';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
const START = '<!-- fields:start (generated from the schemas; REGEN=1 pnpm test rewrites it) -->';
const END = '<!-- fields:end -->';

describe('README', () => {
  it('has the field table the schemas generate', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start, 'README lacks the fields:start marker').toBeGreaterThan(-1);
    const current = readme.slice(start + START.length, end).trim();
    const generated = renderFieldTable().trim();
    if (process.env['REGEN'] === '1' && current !== generated) {
      writeFileSync(readmePath, `${readme.slice(0, start + START.length)}\n\n${generated}\n\n${readme.slice(end)}`);
      return;
    }
    expect(current).toBe(generated);
  });

  it('lists every error code, and only those', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const documented = [...readme.matchAll(/^\| `(HATAKE_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(Object.keys(PROTOCOL_ERRORS).sort());
  });
});
