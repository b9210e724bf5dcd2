import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { STORE_ERRORS } from '@hatake/store';
import { documentedErrorCodes } from '@hatake/testkit';

it('the README lists every error code, and only those', () => {
  expect(documentedErrorCodes(fileURLToPath(new URL('../README.md', import.meta.url)))).toEqual(Object.keys(STORE_ERRORS).sort());
});
