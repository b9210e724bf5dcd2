/**
 * The write-ahead spool: batches the store cannot take now (down, or slower
 * than `ingest.spool.afterMs`) are appended here, synced to disk, and only
 * then are their messages acknowledged to the broker. They come back, oldest
 * first, when the store returns.
 *
 * One directory per ingest instance, files `<16-digit seq>.spool`. A frame is
 * `u32 LE length | u32 LE CRC-32 | payload`. Appends are group-committed:
 * frames arriving while a write is in flight go out together in the next one,
 * followed by one `fdatasync`; each append resolves only after that sync. The
 * newest file (the head) takes appends; a reader takes whole files oldest
 * first — sealing the head when it has caught up — and deletes a file once it
 * says everything in it is stored. At open, every file is sealed and the last
 * one's torn tail (a crash mid-write) is cut off. A frame failing its CRC
 * elsewhere ends its file: the frames before it are replayed, the file is set
 * aside as `.corrupt` and counted.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '@hatake/runtime';
import { IngestError } from './errors.ts';

export interface SpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly log: Logger;
}

/** A sealed spool file, read whole: its frames' payloads, oldest first. */
export interface SpoolSegment {
  readonly seq: number;
  readonly frames: readonly Buffer[];
  /** A bad frame ended the file early. */
  readonly corrupt: boolean;
}

interface Pending {
  readonly frame: Buffer[];
  readonly size: number;
  resolve(): void;
  reject(err: Error): void;
}

const HEADER = 8;
const NAME = /^(\d{16})\.spool$/;
const fileName = (seq: number): string => `${String(seq).padStart(16, '0')}.spool`;
/** Directories a spool of this process has open (the lock file cannot tell them apart: same pid). */
const openDirs = new Set<string>();

/** Splits a file's bytes into frames; stops at the first incomplete or bad one. */
export function parseFrames(buf: Buffer): { frames: Buffer[]; goodBytes: number; bad: 'torn' | 'crc' | undefined } {
  const frames: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + HEADER > buf.length) return { frames, goodBytes: off, bad: 'torn' };
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (off + HEADER + len > buf.length) return { frames, goodBytes: off, bad: 'torn' };
    const payload = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== sum) return { frames, goodBytes: off, bad: 'crc' };
    frames.push(payload);
    off += HEADER + len;
  }
  return { frames, goodBytes: off, bad: undefined };
}

function frameOf(payload: Buffer): Buffer[] {
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return [header, payload];
}

const ioError = (what: string, err: unknown): IngestError =>
  new IngestError('HATAKE_ERR_INGEST_SPOOL_IO', `spool ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });

export class Spool {
  private readonly opts: SpoolOptions;
  private readonly sealed: { seq: number; size: number }[] = [];
  private head: { seq: number; fh: FileHandle; size: number } | undefined;
  private nextSeq = 1;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private lock: Promise<void> = Promise.resolve();
  private flushing = false;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  /** Bytes on disk in live spool files (not counting files set aside as corrupt). */
  bytes = 0;
  /** Frames set aside because a spool file was corrupt. */
  corruptFiles = 0;

  private constructor(opts: SpoolOptions) {
    this.opts = opts;
  }

  /** Opens (creating) the directory, takes its lock, seals what a previous run left and cuts a torn tail. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const s = new Spool(opts);
    try {
      await mkdir(opts.dir, { recursive: true });
    } catch (err) {
      throw ioError(`directory ${opts.dir} cannot be created`, err);
    }
    s.takeLock();
    try {
      const names = (await readdir(opts.dir)).filter((n) => NAME.test(n)).sort();
      for (const [i, name] of names.entries()) {
        const seq = Number(NAME.exec(name)![1]);
        const path = join(opts.dir, name);
        let size = (await stat(path)).size;
        if (i === names.length - 1) {
          // the file a crash may have cut mid-frame: keep the whole frames
          const { goodBytes, bad } = parseFrames(await readFile(path));
          if (bad === 'torn') {
            opts.log.warn({ file: name, cut: size - goodBytes }, 'spool file ends in a torn frame (a crash mid-write); cutting it off');
            await truncate(path, goodBytes);
            size = goodBytes;
          }
        }
        if (size === 0) await unlink(path);
        else s.sealed.push({ seq, size });
        s.bytes += size;
        s.nextSeq = seq + 1;
      }
    } catch (err) {
      s.releaseLock();
      throw err instanceof IngestError ? err : ioError(`directory ${opts.dir} cannot be read`, err);
    }
    if (s.bytes > 0) opts.log.info({ dir: opts.dir, files: s.sealed.length, bytes: s.bytes }, 'spool holds batches from a previous run; replaying them');
    return s;
  }

  private get lockPath(): string {
    return join(this.opts.dir, 'LOCK');
  }

  private takeLock(): void {
    if (openDirs.has(this.opts.dir)) throw new IngestError('HATAKE_ERR_INGEST_SPOOL_LOCKED', `spool ${this.opts.dir} is in use by another ingest in this process`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        openDirs.add(this.opts.dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`lock ${this.lockPath} cannot be taken`, err);
        const pid = Number(readFileSync(this.lockPath, 'utf8').trim());
        let alive = false;
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
          try {
            process.kill(pid, 0);
            alive = true;
          } catch (e) {
            alive = (e as NodeJS.ErrnoException).code === 'EPERM';
          }
        }
        if (alive) throw new IngestError('HATAKE_ERR_INGEST_SPOOL_LOCKED', `spool ${this.opts.dir} is in use by process ${pid}`);
        // left by a process that is gone (killed): take it over
        unlinkSync(this.lockPath);
      }
    }
    throw new IngestError('HATAKE_ERR_INGEST_SPOOL_LOCKED', `spool ${this.opts.dir}: lock could not be taken`);
  }

  private releaseLock(): void {
    if (!openDirs.delete(this.opts.dir)) return;
    try {
      unlinkSync(this.lockPath);
    } catch {
      // already gone
    }
  }

  /** Whether `payloadBytes` more would fit under maxBytes now. */
  hasRoomFor(payloadBytes: number): boolean {
    return this.bytes + this.queuedBytes + payloadBytes + HEADER <= this.opts.maxBytes;
  }

  /** Sealed files plus the head: how many files hold batches. */
  get files(): number {
    return this.sealed.length + (this.head && this.head.size > 0 ? 1 : 0);
  }

  /** Appends one payload; resolves once it is synced to disk. Refuses at once when the spool is full. */
  append(payload: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new IngestError('HATAKE_ERR_INGEST_SPOOL_IO', 'spool is closed'));
    if (!this.hasRoomFor(payload.length)) {
      return Promise.reject(new IngestError('HATAKE_ERR_INGEST_SPOOL_FULL', `spool ${this.opts.dir} is full (${this.bytes} of ${this.opts.maxBytes} bytes)`));
    }
    return new Promise<void>((resolve, reject) => {
      const size = payload.length + HEADER;
      this.queue.push({ frame: frameOf(payload), size, resolve, reject });
      this.queuedBytes += size;
      if (!this.flushing) {
        this.flushing = true;
        void this.exclusive(() => this.flushQueue());
      }
    });
  }

  /** Runs `fn` after every earlier exclusive operation (writes, sealing, deleting). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async flushQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const items = this.queue;
      this.queue = [];
      let i = 0;
      try {
        while (i < items.length) {
          if (this.head && this.head.size > 0 && this.head.size + items[i]!.size > this.opts.segmentBytes) await this.sealHead();
          const head = this.head ?? (await this.openHead());
          // as many as fit in this file (at least one)
          let j = i;
          let bytes = 0;
          while (j < items.length && (j === i || head.size + bytes + items[j]!.size <= this.opts.segmentBytes)) bytes += items[j++]!.size;
          await head.fh.writev(items.slice(i, j).flatMap((p) => p.frame));
          await head.fh.datasync();
          head.size += bytes;
          this.bytes += bytes;
          this.queuedBytes -= bytes;
          for (const p of items.slice(i, j)) p.resolve();
          i = j;
        }
      } catch (err) {
        const e = err instanceof IngestError ? err : ioError('write failed', err);
        for (const p of items.slice(i)) {
          this.queuedBytes -= p.size;
          p.reject(e);
        }
        // a half-written frame may be at the end of the head: start a new file so later frames stay readable
        if (this.head) await this.sealHead().catch(() => undefined);
      }
      this.wake();
    }
    this.flushing = false;
  }

  private async openHead(): Promise<{ seq: number; fh: FileHandle; size: number }> {
    const seq = this.nextSeq++;
    let fh: FileHandle;
    try {
      fh = await open(join(this.opts.dir, fileName(seq)), 'wx', 0o600);
      // the new file's name must survive a power cut too
      const dir = await open(this.opts.dir, 'r');
      await dir.sync().finally(() => dir.close());
    } catch (err) {
      throw ioError(`file ${fileName(seq)} cannot be created`, err);
    }
    this.head = { seq, fh, size: 0 };
    return this.head;
  }

  private async sealHead(): Promise<void> {
    const head = this.head;
    if (!head) return;
    this.head = undefined;
    await head.fh.close().catch(() => undefined);
    if (head.size > 0) this.sealed.push({ seq: head.seq, size: head.size });
    else await unlink(join(this.opts.dir, fileName(head.seq))).catch(() => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when something may have been appended (or the spool closed). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The oldest file's frames, sealing the head if nothing older is left; undefined when the spool is empty. */
  take(): Promise<SpoolSegment | undefined> {
    return this.exclusive(async () => {
      if (this.sealed.length === 0 && this.head && this.head.size > 0) await this.sealHead();
      const oldest = this.sealed[0];
      if (!oldest) return undefined;
      const name = fileName(oldest.seq);
      let buf: Buffer;
      try {
        buf = await readFile(join(this.opts.dir, name));
      } catch (err) {
        throw ioError(`file ${name} cannot be read`, err);
      }
      const { frames, bad } = parseFrames(buf);
      if (bad) {
        this.corruptFiles++;
        this.opts.log.error({ code: 'HATAKE_ERR_INGEST_SPOOL_CORRUPT', file: name, frames, problem: bad }, 'spool file is corrupt after its first good frames; replaying those and setting the file aside');
      }
      return { seq: oldest.seq, frames, corrupt: bad !== undefined };
    });
  }

  /** Everything in this file is stored: delete it (or set it aside, when it was corrupt). */
  done(seg: SpoolSegment): Promise<void> {
    return this.exclusive(async () => {
      const i = this.sealed.findIndex((f) => f.seq === seg.seq);
      if (i < 0) return;
      const [f] = this.sealed.splice(i, 1);
      const path = join(this.opts.dir, fileName(seg.seq));
      try {
        if (seg.corrupt) await rename(path, `${path}.corrupt`);
        else await unlink(path);
      } catch (err) {
        this.opts.log.error({ err: { message: (err as Error).message }, file: path }, 'spool file could not be removed after replay');
      }
      this.bytes -= f!.size;
      this.wake();
    });
  }

  /** Waits for appends in flight, closes the head file and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(async () => {
      const head = this.head;
      this.head = undefined;
      if (head) {
        await head.fh.close().catch(() => undefined);
        if (head.size === 0) await unlink(join(this.opts.dir, fileName(head.seq))).catch(() => undefined);
      }
    });
    this.releaseLock();
    this.wake();
  }
}
