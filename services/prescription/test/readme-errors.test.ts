import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { PRESCRIPTION_ERRORS } from '@hatake/prescription';
import { documentedErrorCodes } from '@hatake/testkit';

it('the README lists every error code, and only those', () => {
  expect(documentedErrorCodes(fileURLToPath(new URL('../README.md', import.meta.url)))).toEqual(Object.keys(PRESCRIPTION_ERRORS).sort());
});
