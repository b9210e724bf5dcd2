/**
 * One system call per socket per event-loop round. MQTT code (aedes, mqtt.js)
 * writes every packet in a tick of its own, and each write to a socket is a
 * system call — under load the busiest thing a broker or a service does. A
 * stream held with {@link holdForRound} is corked until the round's I/O is
 * done (`setImmediate`) and then flushed with one `writev`: every packet the
 * round produced for it goes out together, delayed by less than a round.
 * What was written before a `destroy()` still goes out first, as it would
 * have without the hold (a refused CONNECT's CONNACK, say).
 */
import type { Writable } from 'node:stream';

export interface RoundCorker {
  /** Corks the stream until the end of the current round (once per round, whatever the number of calls). */
  hold(): void;
  /** Sends what is held now (before a `destroy()`, which would drop it). */
  flush(): void;
}

export function roundCorker(stream: Writable): RoundCorker {
  let holding = false;
  const flush = (): void => {
    if (!holding) return;
    holding = false;
    stream.uncork();
  };
  return {
    hold() {
      if (holding) return;
      holding = true;
      stream.cork();
      setImmediate(flush);
    },
    flush,
  };
}

const held = new WeakSet<Writable>();

/** Makes every write to `stream` wait for the end of the round it was made in (once per stream; later calls do nothing). */
export function holdForRound(stream: Writable): void {
  if (held.has(stream)) return;
  held.add(stream);
  const rounds = roundCorker(stream);
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  const destroy = stream.destroy.bind(stream);
  stream.write = ((...args: unknown[]) => {
    rounds.hold();
    return write(...args);
  }) as Writable['write'];
  stream.destroy = ((err?: Error) => {
    rounds.flush();
    return destroy(err);
  }) as Writable['destroy'];
}
