/**
 * Issue 4's fuzz run: 100,000 random and mutated messages (valid-looking and
 * garbage, see fuzz-messages.ts) mixed into good traffic, published at QoS 1
 * by every device of the test deployment over its own authenticated
 * connection, through hatake's broker into ingest and a real influxd.
 *
 * Asserts: nothing crashes (ingest, gateway and broker answer /healthz 200,
 * no device is disconnected, nothing lands on Object.prototype); every good
 * sample is stored exactly once, with the values sent; good events and states
 * with hostile but valid text are stored as sent; every bad message produces
 * exactly one dead letter (matched by topic, size and payload head) whose
 * first reason is one its family earns; ingest's refusal counters agree.
 *
 * The devices and the dead-letter reader run in a child process, so their
 * MQTT work does not share a core with the broker, ingest and the gateway.
 * The seed is random unless HATAKE_FUZZ_SEED is set, and printed, so a
 * failure replays: HATAKE_FUZZ_SEED=<seed> pnpm exec vitest run --config
 * test/vitest.config.ts --project e2e test/e2e/fuzz.test.ts
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_TIME_MAX_MS, type DeviceKind } from '@hatake/protocol';
import type { SampleRow } from '@hatake/store';
import { waitFor } from '@hatake/testkit';
import { BAD_SEQ_BASE, type FuzzChildMessage, type FuzzProgress, type FuzzRunParams, type FuzzRunResult } from './fuzz-messages.ts';
import { startStack, type Stack } from './stack.ts';

const BAD_MESSAGES = 100_000;
const GOOD_SAMPLES = 12_000;
const GOOD_EVENTS = 300;
const GOOD_STATES = 100;

const SEED = process.env['HATAKE_FUZZ_SEED'] !== undefined ? Number(process.env['HATAKE_FUZZ_SEED']) : randomInt(2 ** 31);

/** Runs the devices in a child process; `progress()` (what the services have taken from the broker and refused) is relayed to it, for its flow control. */
function runDevicesInChild(params: FuzzRunParams, progress: () => Promise<FuzzProgress>): { result: Promise<FuzzRunResult>; kill(): void } {
  const module = pathToFileURL(fileURLToPath(new URL('./fuzz-messages.ts', import.meta.url))).href;
  const child = spawn(process.execPath, ['--conditions=@hatake/source', '--import', 'tsx', '--input-type=module', '-e', `import { fuzzDevicesChild } from ${JSON.stringify(module)}; await fuzzDevicesChild();`], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const relay = setInterval(() => {
    void progress().then((p) => {
      // a child that has just finished may be gone by now: nothing to tell it then
      if (child.connected) child.send({ type: 'progress', progress: p } satisfies FuzzChildMessage, () => undefined);
    });
  }, 5);
  const result = new Promise<FuzzRunResult>((resolve, reject) => {
    child.on('message', (m: FuzzChildMessage) => {
      if (m.type === 'done') resolve(m.result);
      else if (m.type === 'error') reject(new Error(`device process: ${m.message}`));
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`device process exited (${code ?? signal}) without a result`)));
    child.send({ type: 'start', params } satisfies FuzzChildMessage);
  }).finally(() => clearInterval(relay));
  return {
    result,
    kill: () => {
      clearInterval(relay);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('fuzz: 100,000 bad messages mixed into good traffic, through the broker and ingest into influxd', () => {
  let stack: Stack;
  let devicesProcess: { kill(): void } | undefined;
  beforeAll(async () => {
    stack = await startStack('influx', {
      env: {
        // each device here publishes thousands of messages a second, far above the production rate
        HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1000000',
        HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '1000000',
        // what is under test is validation, not the broker's durability: its in-memory store keeps the run short
        HATAKE_BROKER__PERSISTENCE__TYPE: 'memory',
      },
    });
  });
  afterAll(async () => {
    devicesProcess?.kill();
    await stack?.stop();
  });

  it('stores every good sample exactly once, dead-letters every bad message exactly once, and nothing crashes', async () => {
    const { config, secrets } = stack.dep;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const refusedBefore = (await stack.broker.metrics.publishRefused.get()).values.reduce((s, v) => s + v.value, 0);
    const devices = config.devices.map((d) => ({ id: d.id, kind: d.kind }));
    const now = Date.now();
    const t0 = now - 2 * 3_600_000;
    console.log(`fuzz seed ${SEED} (replay: HATAKE_FUZZ_SEED=${SEED}); ${devices.length} devices`);

    const child = runDevicesInChild(
      {
        options: {
          seed: SEED,
          devices,
          badMessages: BAD_MESSAGES,
          goodSamples: GOOD_SAMPLES,
          goodEvents: GOOD_EVENTS,
          goodStates: GOOD_STATES,
          t0,
          now,
          maxPayloadBytes: config.limits.maxPayloadBytes,
          maxBatchSamples: config.limits.maxBatchSamples,
          maxFutureSkewMs: config.limits.maxFutureSkewSeconds * 1000,
          maxPacketBytes: config.broker.maxPacketBytes,
        },
        mqttUrl: stack.addr.mqtt.url,
        passwords: Object.fromEntries(devices.map((d) => [d.id, secrets[d.id] ?? secrets['load']!])),
        // the gateway's account is the one allowed to read dead letters (broker ACL)
        reader: { username: 'gateway', password: secrets['gateway']!, clientId: 'gateway:fuzz' },
        source: config.ingest.username,
        window: 32,
        ahead: 2000,
      },
      // messages both consumers, ingest and the gateway, have taken from the broker
      async () => {
        const sum = async (c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> => (await c.get()).values.reduce((s, v) => s + v.value, 0);
        const [ingest, valid, invalid] = await Promise.all([sum(stack.ingest.metrics.received), sum(stack.gateway.metrics.mqttMessages), sum(stack.gateway.metrics.mqttInvalid)]);
        return { received: Math.min(ingest, valid + invalid), refused: await sum(stack.ingest.metrics.rejected) };
      },
    );
    devicesProcess = child;
    const run = await child.result;
    const devicesDone = performance.now();

    // ── samples: exactly the good ones, once each, with the values sent ──
    const kindOf = new Map<string, DeviceKind>(devices.map((d) => [d.id, d.kind]));
    const window = { from: t0, to: DEVICE_TIME_MAX_MS };
    // every field is read, seq among them
    type FullRow = SampleRow & { readonly seq: number };
    const readAll = async (): Promise<Map<string, FullRow[]>> =>
      new Map(await Promise.all(devices.map(async (d) => [d.id, (await stack.store.samples({ kind: kindOf.get(d.id)!, device: d.id, ...window, limit: 1_000_000 })) as FullRow[]] as const)));
    let stored = new Map<string, FullRow[]>();
    await waitFor(
      'every good sample in influxd',
      async () => {
        await stack.ingest.flush();
        stored = await readAll();
        return devices.every((d) => (stored.get(d.id)?.filter((r) => r.seq < BAD_SEQ_BASE).length ?? 0) >= run.goodSamples[d.id]!.length) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch(() => undefined); // the exact comparison below says what is missing
    const storeDone = performance.now();

    // what was stored from a bad message, by the family of that message
    const origin = (t: number, device?: string, seq?: number): string =>
      (device !== undefined && seq !== undefined ? run.badSeqFamily[device]?.[seq] : undefined) ?? run.badTimeFamily[t] ?? (t > now + 60_000 ? 'future device time' : `unknown (t ${t})`);
    const missing: Record<string, number[]> = {};
    const duplicated: Record<string, number[]> = {};
    const intruders: Record<string, number> = {};
    const altered: string[] = [];
    let goodSampleCount = 0;
    for (const d of devices) {
      const want = new Map(run.goodSamples[d.id]!.map((s) => [s['seq'] as number, s]));
      goodSampleCount += want.size;
      const seen = new Set<number>();
      for (const r of stored.get(d.id) ?? []) {
        if (seen.has(r.seq)) (duplicated[d.id] ??= []).push(r.seq);
        seen.add(r.seq);
        const s = want.get(r.seq);
        if (!s) {
          const label = origin(r.t, d.id, r.seq);
          intruders[label] = (intruders[label] ?? 0) + 1;
          continue;
        }
        for (const [k, v] of Object.entries(s)) {
          const got = (r as Record<string, unknown>)[k];
          if (JSON.stringify(got) !== JSON.stringify(v) && altered.length < 20) altered.push(`${d.id} seq ${r.seq} ${k}: sent ${JSON.stringify(v)}, stored ${JSON.stringify(got)}`);
        }
      }
      for (const seq of want.keys()) if (!seen.has(seq)) (missing[d.id] ??= []).push(seq);
    }
    expect(goodSampleCount).toBeGreaterThanOrEqual(GOOD_SAMPLES);
    const head = (o: Record<string, number[]>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, `${v.length}: ${v.slice(0, 10).join(', ')}${v.length > 10 ? ', …' : ''}`]));
    expect.soft(head(missing), `good samples missing from the store (seed ${SEED})`).toEqual({});
    expect.soft(head(duplicated), 'samples stored twice').toEqual({});
    expect.soft(intruders, 'samples stored from bad messages, by family').toEqual({});
    expect.soft(altered, 'stored values differ from those sent').toEqual([]);

    // ── events and states: hostile but valid text, stored as sent; nothing from a bad message ──
    const storedEvents = await stack.store.events({ devices: devices.map((d) => d.id), ...window, limit: 1_000_000 });
    const sentEvents = new Map(run.goodEvents.map(({ device, event }) => [`${device}@${event['t'] as number}`, event]));
    const eventProblems: Record<string, number> = {};
    const eventExamples: string[] = [];
    const eventProblem = (label: string, example: string): void => {
      eventProblems[label] = (eventProblems[label] ?? 0) + 1;
      if (eventExamples.length < 6) eventExamples.push(`${label}: ${example.slice(0, 300)}`);
    };
    const seenEvents = new Set<string>();
    for (const e of storedEvents) {
      // what the gateway observed itself (alarms such as a tractor far outside its field, from a valid sample)
      if (e.data?.['source'] === 'gateway') continue;
      const key = `${e.device}@${e.t}`;
      const want = sentEvents.get(key);
      if (!want) {
        eventProblem(`stored from a bad message (${origin(e.t)})`, JSON.stringify(e));
        continue;
      }
      if (seenEvents.has(key)) eventProblem('stored twice', key);
      seenEvents.add(key);
      const { device: _d, kind: _k, ...got } = e;
      if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort())) eventProblem('stored differently', `sent ${JSON.stringify(want)}, stored ${JSON.stringify(got)}`);
    }
    for (const [key, want] of sentEvents) {
      // eslint-disable-next-line no-control-regex -- telling events with control characters apart is the point
      const control = Object.values((want['data'] as Record<string, unknown> | undefined) ?? {}).some((v) => typeof v === 'string' && /[\u0000-\u001f\u007f]/.test(v));
      if (!seenEvents.has(key)) eventProblem(`good event missing${control ? ' (a data value holds a control character)' : ''}`, `${key} ${JSON.stringify(want)}`);
    }
    expect.soft(eventProblems, `events; e.g.\n${eventExamples.join('\n')}`).toEqual({});

    const latest = await stack.store.latest(devices.map((d) => d.id));
    const stateProblems: string[] = [];
    for (const [device, want] of Object.entries(run.latestStates)) {
      const got = latest.find((l) => l.device === device)?.state;
      if (JSON.stringify(Object.entries(got ?? {}).sort()) !== JSON.stringify(Object.entries(want).sort())) {
        stateProblems.push(`${device}: latest good state ${JSON.stringify(want)}, latest stored ${JSON.stringify(got)}${got ? ` (${origin(got.t)})` : ''}`);
      }
    }
    expect.soft(stateProblems.slice(0, 6), `${stateProblems.length} devices whose latest stored state is not their latest good one`).toEqual([]);

    // ── dead letters: exactly one per bad message, with a first reason its family earns ──
    expect.soft(run.notLettered, `bad messages with no dead letter (seed ${SEED}); e.g.\n${run.notLetteredExamples.join('\n')}`).toEqual({});
    expect.soft(run.unexpected, 'dead letters that match no bad message (a second one for a message, a good message refused, a store refusal)').toEqual({});
    expect.soft(run.repeatedStoreRefusals, 'records the store refused, dead-lettered more than once').toBe(0);
    expect.soft(run.wrongCode, `dead letters whose first reason does not fit the message; e.g.\n${run.wrongCodeExamples.join('\n')}`).toEqual({});
    expect.soft(run.malformedLetters, 'dead letters from another source, or with 0 or more than 51 reasons').toBe(0);
    const rejected = Object.fromEntries((await stack.ingest.metrics.rejected.get()).values.filter((v) => v.value > 0).map((v) => [String(v.labels['reason']), v.value]));
    expect.soft(rejected, 'hatake_ingest_rejected_total by reason vs dead letters by first reason').toEqual(run.lettersByCode);
    expect.soft(Object.values(rejected).reduce((s, n) => s + n, 0), 'refusals counted vs bad messages sent').toBe(BAD_MESSAGES);
    expect.soft(run.undelivered, 'messages published that ingest or the gateway never received').toBe(0);
    expect.soft(run.lettersMissing, 'refusals whose dead letter never arrived').toBe(0);

    // ── nothing crashed, nobody was cut off, nothing landed on Object.prototype ──
    for (const url of [`${stack.ingestHttp}/healthz`, `${stack.api}/healthz`, `${stack.addr.http.url}/healthz`]) {
      const res = await fetch(url);
      expect.soft(res.status, `${url}: ${await res.text()}`).toBe(200);
    }
    expect.soft(stack.broker.aedes?.closed).toBe(false);
    expect.soft(run.disconnected, 'device connections closed before the end').toEqual([]);
    const refusedAfter = (await stack.broker.metrics.publishRefused.get()).values.reduce((s, v) => s + v.value, 0);
    expect.soft(refusedAfter - refusedBefore, 'publishes the broker refused (every message is on its device’s own topic)').toBe(0);
    expect.soft(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect.soft(({} as Record<string, unknown>)['polluted']).toBeUndefined();

    const cpu = process.cpuUsage(cpu0);
    console.log(
      `fuzz seed ${SEED}: ${BAD_MESSAGES} bad messages in ${Object.keys(run.families).length} families, ${run.goodMessages} good messages (${goodSampleCount} samples), ${run.letters} dead letters; ` +
        `wall ${Math.round(performance.now() - started)} ms (devices ${JSON.stringify(run.timing)}, store ${Math.round(storeDone - devicesDone)}); ` +
        `cpu: stack ${Math.round((cpu.user + cpu.system) / 1000)} ms, devices ${run.cpuMs} ms\nfamilies ${JSON.stringify(run.families)}\nrejected ${JSON.stringify(rejected)}`,
    );
  }, 300_000);
});
