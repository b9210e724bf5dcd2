/**
 * Where the broker keeps what must outlive a connection: stored sessions
 * (the subscriptions of clean=false clients), the QoS 1 messages queued or
 * in flight for them, retained messages and last wills.
 *
 * `level` (the default) is aedes-persistence-level over LevelDB
 * (classic-level) in `deployment.dataDir`/`broker.persistence.dir`, so all of
 * that survives a broker restart or crash; `memory` is aedes' own in-process
 * store, gone with the process.
 */
import { resolve } from 'node:path';
import aedesPersistenceLevel from 'aedes-persistence-level';
import { ClassicLevel } from 'classic-level';
import type { Config } from '@hatake/config';
import { settledWithin, type Logger } from '@hatake/runtime';
import { BrokerError } from './errors.ts';

/** How long stop() waits for store writes still in flight (wills published at close, say) before it closes the store. */
export const PERSISTENCE_DRAIN_MS = 5000;

export interface BrokerPersistence {
  readonly type: Config['broker']['persistence']['type'];
  /** The LevelDB directory (`level` only). */
  readonly dir: string | undefined;
  /** What aedes gets as its `persistence` option; undefined: aedes' own memory store. */
  readonly aedes: object | undefined;
  /** Turns an error thrown while aedes loads the store into a typed one. */
  loadError(err: unknown): Error;
  /** Waits (bounded) for writes in flight, then closes the store and releases its lock. */
  close(): Promise<void>;
}

/** The absolute LevelDB directory of a configuration. */
export function persistenceDir(config: Config): string {
  return resolve(config.deployment.dataDir, config.broker.persistence.dir);
}

/** Error codes of an error and its causes (classic-level wraps the LevelDB status in `cause`). */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

function explain(err: unknown): string {
  const messages: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) messages.push(e.message);
  return messages.join(': ');
}

/** Maps a failure to open the LevelDB directory to a typed broker error. */
export function openError(dir: string, err: unknown): BrokerError {
  const codes = codesOf(err);
  if (codes.includes('LEVEL_LOCKED')) {
    return new BrokerError('HATAKE_ERR_BROKER_PERSISTENCE_LOCKED', `broker persistence ${dir} is in use by another broker; stop it, or set broker.persistence.dir to a directory of this broker's own`, { cause: err });
  }
  if (codes.includes('LEVEL_CORRUPTION')) return corrupt(dir, err);
  return new BrokerError('HATAKE_ERR_BROKER_PERSISTENCE_UNAVAILABLE', `broker persistence ${dir} cannot be opened (${explain(err)})`, { cause: err });
}

function corrupt(dir: string, err: unknown): BrokerError {
  return new BrokerError(
    'HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT',
    `broker persistence ${dir} cannot be read (${explain(err)}); restore it from a backup, or stop the broker and delete the directory (stored sessions, queued messages and retained states are lost)`,
    { cause: err },
  );
}

/**
 * Wraps an aedes persistence so that its operations in flight are known: stop()
 * lets them finish before the database closes. aedes 1.x calls every method
 * without a callback and gets a promise (or a stream) back.
 */
function tracked<T extends object>(target: T, pending: Set<Promise<unknown>>): T {
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      // aedes 1.x refuses a persistence whose setup() is not an async function
      if (prop === 'setup') return async (broker: unknown) => fn.call(t, broker);
      return (...args: unknown[]) => {
        const out = fn.apply(t, args);
        if (out instanceof Promise) {
          pending.add(out);
          const settled = (): void => {
            pending.delete(out);
          };
          out.then(settled, settled);
        }
        return out;
      };
    },
  });
}

/** Resolves once nothing is in flight (checked again a turn later: one finished write may start the next) or the deadline passed. */
async function drain(pending: Set<Promise<unknown>>, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    while (pending.size > 0 && Date.now() < deadline) {
      await settledWithin(Promise.allSettled([...pending]), deadline - Date.now());
    }
    await new Promise((r) => setImmediate(r));
    if (pending.size === 0 || Date.now() >= deadline) return pending.size;
  }
}

/**
 * Opens the store of `config.broker.persistence`. A LevelDB directory that is
 * locked, damaged or cannot be opened rejects with a typed error
 * (`HATAKE_ERR_BROKER_PERSISTENCE_*`).
 */
export async function openPersistence(config: Config, log: Logger): Promise<BrokerPersistence> {
  if (config.broker.persistence.type === 'memory') {
    return { type: 'memory', dir: undefined, aedes: undefined, loadError: (err) => (err instanceof Error ? err : new Error(String(err))), close: () => Promise.resolve() };
  }
  const dir = persistenceDir(config);
  const db = new ClassicLevel<string, string>(dir);
  try {
    await db.open();
  } catch (err) {
    throw openError(dir, err);
  }
  const pending = new Set<Promise<unknown>>();
  const store = aedesPersistenceLevel(db);
  let closed = false;
  return {
    type: 'level',
    dir,
    aedes: tracked(store, pending),
    loadError: (err) => corrupt(dir, err),
    async close() {
      if (closed) return;
      closed = true;
      const left = await drain(pending, PERSISTENCE_DRAIN_MS);
      if (left > 0) log.warn({ dir, inFlight: left }, 'closing the broker store with writes still in flight');
      try {
        await store.destroy();
      } catch (err) {
        log.error({ err, dir }, 'closing the broker store failed');
      }
    },
  };
}
