/**
 * Running real external programs (Debian's mosquitto clients, influxd) from tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (or until `timeoutMs`, then SIGTERM) and collects its output; `env` is added to this process's environment. */
export function run(command: string, args: readonly string[], opts: { timeoutMs?: number; input?: string; env?: Readonly<Record<string, string>> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // a program that exits without reading its input must not fail the test with EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Starts a long-running program and resolves once `ready` matches its output (stdout or stderr). */
export function startProcess(
  command: string,
  args: readonly string[],
  ready: RegExp,
  opts: { timeoutMs?: number } = {},
): Promise<{ readonly pid: number; readonly output: () => string; stop(signal?: NodeJS.Signals): Promise<RunResult> }> {
  return new Promise((resolve, reject) => {
    // its own process group, so stop() reaches grandchildren too (a shell's sleep, a server's workers)
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let stdout = '';
    let stderr = '';
    let settled = false;
    const closed = new Promise<RunResult>((res) => child.on('exit', (code, signal) => res({ code, signal, stdout, stderr })));
    const kill = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      kill('SIGKILL');
      reject(new Error(`${command} did not become ready in time; output:\n${out}`));
    }, opts.timeoutMs ?? 15_000);
    const onData = (d: Buffer, which: 'out' | 'err'): void => {
      out += d.toString();
      if (which === 'out') stdout += d.toString();
      else stderr += d.toString();
      if (!settled && ready.test(out)) {
        settled = true;
        clearTimeout(timer);
        resolve({
          pid: child.pid!,
          output: () => out,
          stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) kill(signal);
            return closed;
          },
        });
      }
    };
    child.stdout.on('data', (d: Buffer) => onData(d, 'out'));
    child.stderr.on('data', (d: Buffer) => onData(d, 'err'));
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready; output:\n${out}`));
    });
  });
}

/** CPU time a process has used so far (user + system), seconds; 0 once it is gone. Linux /proc. */
export function cpuSeconds(pid: number | 'machine'): number {
  try {
    if (pid === 'machine') {
      // busy time of all cores: every jiffy but idle and iowait
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100;
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
