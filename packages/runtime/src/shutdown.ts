/**
 * Graceful shutdown for `main.ts`: the first SIGINT/SIGTERM runs `stop()`
 * (bounded by a timeout); another one a second or more later exits at once.
 * Signals within that second are the same Ctrl-C arriving twice (the terminal
 * signals the whole process group, and launchers such as pnpm relay it), so
 * they are ignored.
 */
import type { Logger } from 'pino';

export interface ShutdownOptions {
  readonly logger: Logger;
  readonly stop: () => Promise<void>;
  /** Give up waiting for stop() after this long. */
  readonly timeoutMs?: number;
}

/** Installs the signal handlers. Returns a function that removes them. */
export function installShutdown(opts: ShutdownOptions): () => void {
  let stoppingSince: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 1000) return;
      opts.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stoppingSince = Date.now();
    opts.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger.error({ timeoutMs: opts.timeoutMs ?? 15_000 }, 'shutdown timed out: exiting');
      process.exit(1);
    }, opts.timeoutMs ?? 15_000);
    timer.unref();
    opts.stop().then(
      () => {
        opts.logger.info('stopped');
        process.exitCode = 0;
        clearTimeout(timer);
      },
      (err: unknown) => {
        opts.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
