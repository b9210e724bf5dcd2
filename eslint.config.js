// Lint rules for every workspace (flat config; a tool-mandated default export).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', '**/test/fixtures/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-ignore': true, 'ts-expect-error': 'allow-with-description', 'ts-nocheck': true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only (CONVENTIONS.md).' },
        { selector: 'TSEnumDeclaration', message: 'Use an `as const` object (erasableSyntaxOnly).' },
        { selector: "MemberExpression[object.object.name='process'][object.property.name='env'][property.name='NODE_ENV']", message: 'Behaviour never branches on NODE_ENV.' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // process.env is read only where a process starts (main.ts), by the test harness, and in tests.
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts', 'simulators/*/src/**/*.ts'],
    // testkit is test infrastructure: it hands the environment on to the programs tests spawn
    ignores: ['**/src/main.ts', 'packages/testkit/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment in main.ts and pass it down (CONVENTIONS.md).' }],
    },
  },
  { files: ['eslint.config.js', '**/vitest.config.ts', '**/vite.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
  // the dashboard's browser code: browser globals, not Node's
  { files: ['services/dashboard/src/web/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
);
