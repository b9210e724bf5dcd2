/**
 * The path a sample travels, with real components only: simulated devices →
 * hatake's broker → ingest → a real store (influxd 1.6 with auth, and the
 * embedded DuckDB) → the REST API; and → the gateway → WebSocket clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_FILTER, exampleTractorSample, type DeadLetter } from '@hatake/protocol';
import { waitFor } from '@hatake/testkit';
import { startStack, type Stack } from './stack.ts';

const WIDE = `from=${Date.now() - 86_400_000}&to=${Date.now() + 86_400_000}`;

describe.each(['influx', 'embedded'] as const)('the fleet through ingest into the %s store', (adapter) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(adapter);
  });
  afterAll(async () => {
    await stack.stop();
  });

  it("stores every device's samples, and REST returns them, count exact", async () => {
    const fleet = await stack.fleet({ only: ['t1', 't2', 'p1', 's1', 's2'] });
    await waitFor('a few seconds of data from every device', () => (fleet.devices.every((d) => d.stats.samples >= 4) ? true : undefined), { timeoutMs: 20_000 });
    await fleet.stop();
    const produced = Object.fromEntries(fleet.devices.map((d) => [d.id, d.stats.samples]));
    await waitFor('ingest to receive everything', async () => {
      const m = await stack.ingest.metrics.received.get();
      const telemetry = m.values.find((v) => v.labels['channel'] === 'telemetry')?.value ?? 0;
      return telemetry >= fleet.devices.length ? true : undefined;
    });
    for (const d of fleet.devices) {
      await waitFor(`all of ${d.id}`, async () => {
        await stack.ingest.flush();
        const r = await stack.get(`/api/v1/devices/${d.id}/telemetry?${WIDE}`, 'admin');
        return r.body['count'] === produced[d.id] ? true : undefined;
      }, { timeoutMs: 15_000 });
      const r = await stack.get(`/api/v1/devices/${d.id}/telemetry?${WIDE}`, 'admin');
      const seqs = (r.body['samples'] as { seq: number }[]).map((s) => s.seq);
      expect(seqs, d.id).toEqual(Array.from({ length: produced[d.id]! }, (_, i) => i));
    }
    // the device list shows them offline after the fleet said goodbye, with their last position
    const list = (await stack.get('/api/v1/devices', 'admin')).body['devices'] as { id: string; online: boolean; position?: { lat?: number } }[];
    await waitFor('offline states stored', async () => {
      await stack.ingest.flush();
      const l = (await stack.get('/api/v1/devices', 'admin')).body['devices'] as { id: string; online: boolean }[];
      return l.every((d) => !d.online) ? true : undefined;
    });
    expect(list.find((d) => d.id === 't1')?.position?.lat).toBeGreaterThan(43);
  });
});

describe('live, and bad input, through the whole stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('embedded');
  });
  afterAll(async () => {
    await stack.stop();
  });

  it("streams every tractor's telemetry; a farm's viewer never receives another farm's", async () => {
    const admin = await stack.live('admin');
    const north = await stack.live('view-north');
    const fleet = await stack.fleet({ only: ['t1', 't2', 's1', 's2'] });
    await waitFor('telemetry', () => (fleet.devices.every((d) => d.stats.samples >= 10) ? true : undefined), { timeoutMs: 20_000 });
    await fleet.stop();
    const seqsOf = (msgs: Record<string, unknown>[], id: string) =>
      msgs.filter((m) => m['type'] === 'telemetry' && m['device'] === id).flatMap((m) => (m['samples'] as { seq: number }[]).map((s) => s.seq));
    for (const t of fleet.devices.filter((d) => d.kind === 'tractor')) {
      await waitFor(`all of ${t.id} on the admin's stream`, () => (new Set(seqsOf(admin.messages, t.id)).size === t.stats.samples ? true : undefined));
    }
    await waitFor("all of t1 on the north viewer's stream", () => (new Set(seqsOf(north.messages, 't1')).size === fleet.devices.find((d) => d.id === 't1')!.stats.samples ? true : undefined));
    const foreign = north.messages.filter((m) => m['device'] === 't2' || m['device'] === 's2');
    expect(foreign).toEqual([]);
    expect(admin.messages.some((m) => m['type'] === 'telemetry' && m['device'] === 's2')).toBe(true);
  });

  it('refuses a bad token at the upgrade', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(stack.ws, ['hatake.v1', 'bearer.forged.token.here']);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('stores every good sample and dead-letters every bad one with its reason; hostile topics never pass the broker; nothing crashes', async () => {
    const watcher = await stack.mqtt('gateway', 'gateway:deadletters');
    const letters: DeadLetter[] = [];
    watcher.on('message', (_t, p) => letters.push(JSON.parse(p.toString()) as DeadLetter));
    await watcher.subscribeAsync(DEAD_LETTER_FILTER, { qos: 1 });
    const t1 = await stack.mqtt('t1', 't1');
    const now = Date.now();
    // an hour back, apart from anything the fleet sent in the tests before
    const t0 = now - 3_600_000;
    const good = (seq: number) => JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t: t0 + seq }) });
    const bad: [string, string | Buffer][] = [
      ['json', '{"v":1,'],
      ['type', JSON.stringify({ v: 1, ...exampleTractorSample({ t: now }), rpm: 'idle' })],
      ['json', good(0).replace('"speed":2.4', '"speed":NaN')],
      ['range', JSON.stringify({ v: 1, ...exampleTractorSample({ t: now, lat: 200 }) })],
      ['size', Buffer.alloc(1024 * 1024, 0x20)],
    ];
    let seq = 0;
    for (const [, payload] of bad) {
      await t1.publishAsync('hatake/v1/tractor/t1/telemetry', good(seq++), { qos: 1 });
      await t1.publishAsync('hatake/v1/tractor/t1/telemetry', payload, { qos: 1 });
      await t1.publishAsync('hatake/v1/tractor/t1/telemetry', good(seq++), { qos: 1 });
    }
    // hostile device ids in topics: the broker refuses them before anything else sees them
    const refusedBefore = (await stack.broker.metrics.publishRefused.get()).values.reduce((s, v) => s + v.value, 0);
    for (const id of ['a,b=c', 'a b', 'a"b']) {
      const rogue = await stack.mqtt('t2', 't2');
      await new Promise<void>((resolve) => {
        rogue.once('close', () => resolve());
        rogue.publish(`hatake/v1/tractor/${id}/telemetry`, good(0), { qos: 1 });
      });
    }
    const refusedAfter = (await stack.broker.metrics.publishRefused.get()).values.reduce((s, v) => s + v.value, 0);
    expect(refusedAfter - refusedBefore).toBe(3);
    await waitFor('every dead letter', () => (letters.length >= bad.length ? true : undefined));
    expect(letters.map((l) => l.reasons[0]?.code)).toEqual(bad.map((b) => b[0]));
    await stack.ingest.flush();
    const stored = await stack.get(`/api/v1/devices/t1/telemetry?from=${t0}&to=${t0 + 1000}`, 'admin');
    expect((stored.body['samples'] as { seq: number }[]).map((s) => s.seq)).toEqual(Array.from({ length: seq }, (_, i) => i));
    // every process still answers
    for (const url of [`${stack.api}/healthz`]) expect((await fetch(url)).status).toBe(200);
    expect(stack.broker.aedes?.closed).toBe(false);
  });
});
