import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, 'fixtures', 'publish-types.ts');

describe('TopicMap', () => {
  it('compiles every correct publish and refuses every wrong one', () => {
    const configPath = join(here, '..', 'tsconfig.json');
    const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    if (!config) throw new Error('cannot read tsconfig.json');
    const program = ts.createProgram([fixture], { ...config.options, noEmit: true, composite: false, declaration: false, declarationMap: false, incremental: false });
    const source = program.getSourceFile(fixture);
    if (!source) throw new Error('fixture not loaded');
    const diagnostics = ts.getPreEmitDiagnostics(program, source);
    const errorLines = [...new Set(diagnostics.map((d) => source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1))].sort((a, b) => a - b);
    const expected = readFileSync(fixture, 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.endsWith('// expect-error') ? [i + 1] : []));
    expect(expected.length).toBeGreaterThan(5);
    const explain = diagnostics.map((d) => `${source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    expect(errorLines, explain.join('\n')).toEqual(expected);
  });
});
