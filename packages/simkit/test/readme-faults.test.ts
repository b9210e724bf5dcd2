import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { FAULT_NAMES, parseFaults } from '@hatake/simkit';

it('the README fault table lists every fault parseFaults knows, and only those', () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## Faults'), readme.indexOf('\n## ', readme.indexOf('## Faults') + 1));
  const documented = [...section.matchAll(/^\| `([a-z-]+)/gm)].map((m) => m[1]);
  expect(documented).toEqual([...FAULT_NAMES]);
  // and each name parses on its own (with its default, where it has one)
  for (const name of FAULT_NAMES) expect(Object.keys(parseFaults(name))).toHaveLength(1);
});
