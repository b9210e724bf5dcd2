/**
 * The write-ahead spool on a real directory: order, rotation, the size bound,
 * a torn tail after a crash, a corrupt file, the lock.
 */
import { appendFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestError, Spool, parseFrames } from '@hatake/ingest';
import { silentLogger } from '@hatake/runtime';

const log = silentLogger();
const dir = (): Promise<string> => mkdtemp(join(tmpdir(), 'hatake-spool-'));
const payload = (i: number, size = 100): Buffer => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(size) }));
const index = (b: Buffer): number => (JSON.parse(b.toString()) as { i: number }).i;

async function readAll(spool: Spool): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const seg = await spool.take();
    if (!seg) return out;
    out.push(...seg.frames.map(index));
    await spool.done(seg);
  }
}

describe('spool', () => {
  it('gives back every frame in order across files, and deletes files once done', async () => {
    const d = await dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1000, log });
    await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(payload(i))));
    expect(spool.files).toBeGreaterThan(3);
    expect(spool.bytes).toBeGreaterThan(50 * 100);
    expect(await readAll(spool)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(spool.bytes).toBe(0);
    expect((await readdir(d)).filter((n) => n.endsWith('.spool'))).toEqual([]);
    await spool.close();
  });

  it('survives a restart: what was appended and not done is there again, in order', async () => {
    const d = await dir();
    let spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 700, log });
    for (let i = 0; i < 20; i++) await spool.append(payload(i));
    const first = (await spool.take())!;
    await spool.done(first);
    const second = (await spool.take())!; // taken, not done: as if the process died mid-replay
    expect(second.frames.length).toBeGreaterThan(0);
    await spool.close();
    spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 700, log });
    const rest = await readAll(spool);
    expect(rest[0]).toBe(index(second.frames[0]!));
    expect([...first.frames.map(index), ...rest]).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await spool.close();
  });

  it('refuses an append past maxBytes with SPOOL_FULL, and takes appends again once replayed', async () => {
    const d = await dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1000, segmentBytes: 400, log });
    let refused: unknown;
    let n = 0;
    try {
      for (; n < 100; n++) await spool.append(payload(n));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(IngestError);
    expect((refused as IngestError).code).toBe('HATAKE_ERR_INGEST_SPOOL_FULL');
    expect(spool.bytes).toBeLessThanOrEqual(1000);
    expect(spool.hasRoomFor(100)).toBe(false);
    expect(await readAll(spool)).toEqual(Array.from({ length: n }, (_, i) => i));
    await spool.append(payload(99));
    expect(await readAll(spool)).toEqual([99]);
    await spool.close();
  });

  it('cuts a torn tail left by a crash mid-write and keeps the frames before it', async () => {
    const d = await dir();
    let spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    for (let i = 0; i < 5; i++) await spool.append(payload(i));
    await spool.close();
    const [file] = (await readdir(d)).filter((n) => n.endsWith('.spool'));
    // half a frame: a header announcing 500 bytes and only 10 of them
    const header = Buffer.alloc(8);
    header.writeUInt32LE(500, 0);
    await appendFile(join(d, file!), Buffer.concat([header, Buffer.alloc(10)]));
    spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    expect(await readAll(spool)).toEqual([0, 1, 2, 3, 4]);
    await spool.close();
  });

  it('sets a corrupt file aside after replaying the frames before the bad one', async () => {
    const d = await dir();
    let spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    for (let i = 0; i < 5; i++) await spool.append(payload(i));
    await spool.close();
    const [file] = (await readdir(d)).filter((n) => n.endsWith('.spool'));
    const path = join(d, file!);
    const buf = await readFile(path);
    const frameLen = 8 + payload(0).length;
    const at = frameLen * 2 + 20; // a flipped byte inside the third frame's payload
    buf.writeUInt8(buf.readUInt8(at) ^ 0xff, at);
    await writeFile(path, buf);
    // a newer file after it, so the corrupt one is not the torn-tail candidate
    spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    await spool.append(payload(9));
    const seg = (await spool.take())!;
    expect(seg.corrupt).toBe(true);
    expect(seg.frames.map(index)).toEqual([0, 1]);
    await spool.done(seg);
    expect(spool.corruptFiles).toBe(1);
    expect(await readAll(spool)).toEqual([9]);
    expect((await readdir(d)).filter((n) => n.endsWith('.corrupt'))).toHaveLength(1);
    await spool.close();
  });

  it('is one instance\'s: a second open of the same directory is refused while the first holds it', async () => {
    const d = await dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    await expect(Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log })).rejects.toMatchObject({ code: 'HATAKE_ERR_INGEST_SPOOL_LOCKED' });
    await spool.close();
    // a lock left by a process that is gone (SIGKILL) is taken over
    await writeFile(join(d, 'LOCK'), '2147483646');
    const again = await Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 20, log });
    await again.close();
  });

  it('parses frames exactly as written and stops at garbage', () => {
    expect(parseFrames(Buffer.from('not a frame at all')).bad).toBe('torn');
    expect(parseFrames(Buffer.alloc(0))).toEqual({ frames: [], goodBytes: 0, bad: undefined });
  });

  it('refuses a directory it cannot create with SPOOL_IO', async () => {
    const d = await dir();
    await writeFile(join(d, 'file'), 'x');
    await expect(Spool.open({ dir: join(d, 'file', 'spool'), maxBytes: 1 << 20, segmentBytes: 1 << 20, log })).rejects.toMatchObject({ code: 'HATAKE_ERR_INGEST_SPOOL_IO' });
  });
});
