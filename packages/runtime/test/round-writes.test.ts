import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { holdForRound, roundCorker } from '@hatake/runtime';

let server: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
});

/** A real loopback connection; `received()` is everything the server side has read so far. */
async function pair(): Promise<{ client: Socket; received: () => string }> {
  let text = '';
  server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d) => (text += d.toString()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  sockets.push(client);
  await once(client, 'connect');
  return { client, received: () => text };
}

/** Counts the socket's system-call-level writes: one `_write` per lone chunk, one `_writev` per flushed group. */
function countWrites(socket: Socket): { writes: number; writevs: number } {
  const counts = { writes: 0, writevs: 0 };
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => {
    counts.writes++;
    write(...a);
  };
  s._writev = (...a) => {
    counts.writevs++;
    writev(...a);
  };
  return counts;
}

/** Writes `n` packets, each in a tick of its own (as mqtt.js and aedes do), all within one event-loop round. */
async function writeInSeparateTicks(socket: Socket, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    socket.write(`${tag}${i};`);
    await new Promise<void>((r) => process.nextTick(r));
  }
}

const roundEnd = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

it('sends what one round wrote in separate ticks as one writev, in order, and lets the next round write again', async () => {
  const { client, received } = await pair();
  const counts = countWrites(client);
  holdForRound(client);
  holdForRound(client); // a second call changes nothing
  await writeInSeparateTicks(client, 5, 'a');
  expect(counts).toEqual({ writes: 0, writevs: 0 }); // still held: the round is not over
  await roundEnd();
  expect(counts).toEqual({ writes: 0, writevs: 1 });
  await writeInSeparateTicks(client, 3, 'b');
  await roundEnd();
  expect(counts).toEqual({ writes: 0, writevs: 2 });
  await expect.poll(received).toBe('a0;a1;a2;a3;a4;b0;b1;b2;');
});

it('without it, each tick is a write of its own (what the hold saves)', async () => {
  const { client, received } = await pair();
  const counts = countWrites(client);
  await writeInSeparateTicks(client, 5, 'a');
  await roundEnd();
  expect(counts.writes + counts.writevs).toBeGreaterThanOrEqual(4);
  await expect.poll(received).toBe('a0;a1;a2;a3;a4;');
});

it('roundCorker corks once per round whatever the number of calls, and end() still flushes', async () => {
  const { client, received } = await pair();
  const counts = countWrites(client);
  const rounds = roundCorker(client);
  rounds.hold();
  client.write('x;');
  rounds.hold();
  client.write('y;');
  client.end('z;');
  await roundEnd();
  expect(counts.writevs).toBe(1);
  await expect.poll(received).toBe('x;y;z;');
});

it('what was written before destroy() still goes out (a refused login\'s CONNACK before the cut)', async () => {
  const { client, received } = await pair();
  holdForRound(client);
  client.write('last words;');
  client.destroy();
  await expect.poll(received).toBe('last words;');
});
