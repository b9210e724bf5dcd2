/**
 * A duplex wrapper around a client connection that reads MQTT fixed headers as
 * bytes flow by and cuts the connection before a packet larger than the limit
 * is buffered. aedes' parser would otherwise hold any announced length
 * (up to 256 MB, MQTT 3.1.1 §2.2.3) in memory.
 *
 * Bytes pass through unchanged; only headers are inspected.
 */
import { Duplex } from 'node:stream';
import { roundCorker, type RoundCorker } from '@hatake/runtime';
import { BrokerError } from './errors.ts';

/** A packet over the limit; `size` is the whole packet as announced. */
export class PacketTooLargeError extends BrokerError {
  readonly size: number;
  constructor(size: number, limit: number) {
    super('HATAKE_ERR_BROKER_PACKET_TOO_LARGE', `MQTT packet of ${size} bytes exceeds the limit of ${limit}`);
    this.size = size;
  }
}

function malformed(): BrokerError {
  return new BrokerError('HATAKE_ERR_BROKER_MALFORMED_PACKET', 'malformed MQTT remaining length (more than 4 bytes)');
}

/** Scanner states. */
const STATE = { type: 0, length: 1, body: 2 } as const;

/** Scans MQTT framing incrementally; returns an error as soon as a violation is seen. */
export class FrameScanner {
  private state: number = STATE.type;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  /** Largest packet allowed from now on (raised once the client has authenticated). */
  limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Feeds bytes; returns an error on the first violation. */
  feed(chunk: Uint8Array): Error | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === STATE.type) {
        i++;
        this.state = STATE.length;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === STATE.length) {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          if (this.lengthBytes >= 4) return malformed();
          continue;
        }
        // fixed header (1 + length bytes) + remaining length
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.limit) return new PacketTooLargeError(total, this.limit);
        this.remaining = this.length;
        this.state = this.remaining === 0 ? STATE.type : STATE.body;
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = STATE.type;
      }
    }
    return undefined;
  }
}

/**
 * Wraps `inner` (a TCP socket or a WebSocket stream) with a {@link FrameScanner}.
 * Until the client has authenticated, packets are held to `preAuthMaxPacketBytes`
 * (a CONNECT is small), so an anonymous socket cannot make the broker buffer megabytes.
 */
export class GuardedConnection extends Duplex {
  readonly remoteAddress: string;
  private readonly inner: Duplex;
  private readonly scanner: FrameScanner;
  private readonly maxPacketBytes: number;
  private readonly onViolation: (err: Error) => void;
  /** aedes writes every delivery in a tick of its own: what one event-loop round writes goes out in one system call. */
  private readonly rounds: RoundCorker;

  constructor(inner: Duplex, opts: { maxPacketBytes: number; preAuthMaxPacketBytes: number; remoteAddress: string; onViolation: (err: Error) => void }) {
    super({ allowHalfOpen: false });
    this.inner = inner;
    this.remoteAddress = opts.remoteAddress;
    this.maxPacketBytes = opts.maxPacketBytes;
    this.scanner = new FrameScanner(Math.min(opts.preAuthMaxPacketBytes, opts.maxPacketBytes));
    this.onViolation = opts.onViolation;
    this.rounds = roundCorker(inner);
    inner.on('data', (chunk: Buffer) => {
      const err = this.scanner.feed(chunk);
      if (err) {
        this.onViolation(err);
        this.destroy(err);
        return;
      }
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
    inner.pause();
  }

  /** The client has authenticated: allow packets up to the full limit. */
  authenticated(): void {
    this.scanner.limit = this.maxPacketBytes;
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.inner.destroyed) {
      cb();
      return;
    }
    this.rounds.hold();
    this.inner.write(chunk, cb);
  }

  /** What aedes wrote in one tick (mqtt-packet corks this stream for a tick) arrives as one chunk list. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (this.inner.destroyed) {
      cb();
      return;
    }
    this.rounds.hold();
    this.inner.write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // what aedes wrote last (a refused CONNECT's CONNACK, say) goes out before the connection is cut
    this.rounds.flush();
    this.inner.destroy();
    cb(err);
  }
}
