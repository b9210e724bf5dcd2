import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DECODE_LIMITS,
  Decoder,
  EXAMPLE_T0,
  HEARTBEAT_TOPIC,
  MAX_REASONS,
  commandAckTopic,
  commandTopic,
  deadLetterTopic,
  eventTopic,
  exampleAck,
  exampleCommand,
  exampleEvent,
  exampleHeartbeat,
  examplePlowSample,
  exampleSensorSample,
  exampleState,
  exampleTractorSample,
  exampleWill,
  primaryReason,
  stateTopic,
  telemetryTopic,
  type DecodeResult,
  type Reason,
} from '@hatake/protocol';

const decoder = new Decoder();
const TRACTOR = telemetryTopic('tractor', 't1');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const single = (s: object): Buffer => json({ v: 1, ...s });

function reasonsOf(r: DecodeResult): readonly Reason[] {
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.value)}`);
  return r.reasons;
}

describe('good messages pass', () => {
  it.each([
    ['tractor single', TRACTOR, single(exampleTractorSample())],
    ['tractor batch', TRACTOR, json({ v: 1, samples: [exampleTractorSample(), exampleTractorSample({ seq: 1, t: EXAMPLE_T0 + 200 })] })],
    ['plow', telemetryTopic('plow', 'p1'), single(examplePlowSample())],
    ['sensor', telemetryTopic('sensor', 's1'), single(exampleSensorSample())],
    ['sensor with one instrument', telemetryTopic('sensor', 's1'), single({ t: EXAMPLE_T0, seq: 3, fix: 'none', soilMoisture: 20 })],
    ['GNSS dropout (fix none, no position)', TRACTOR, single({ ...exampleTractorSample(), fix: 'none', lat: undefined, lon: undefined, alt: undefined, hdop: undefined, speed: undefined, heading: undefined })],
    ['state', stateTopic('tractor', 't1'), json(exampleState())],
    ['last will', stateTopic('tractor', 't1'), json(exampleWill())],
    ['event', eventTopic('tractor', 't1'), json(exampleEvent())],
    ['command', commandTopic('tractor', 't1'), json(exampleCommand())],
    ['set_speed command', commandTopic('tractor', 't1'), json(exampleCommand({ type: 'set_speed', params: { speed: 2 } }))],
    ['ack', commandAckTopic('tractor', 't1'), json(exampleAck())],
    ['rejection with reason', commandAckTopic('tractor', 't1'), json(exampleAck({ status: 'rejected', reason: 'expired' }))],
    ['heartbeat', HEARTBEAT_TOPIC, json(exampleHeartbeat())],
  ])('%s', (_name, topic, payload) => {
    const r = decoder.decode(topic, payload);
    expect(r.ok ? [] : r.reasons).toEqual([]);
  });

  it('normalises telemetry to a list of samples without the version', () => {
    const r = decoder.decode(TRACTOR, single(exampleTractorSample({ seq: 7 })));
    expect(r.ok).toBe(true);
    if (r.ok && r.value.channel === 'telemetry') {
      expect(r.value.batched).toBe(false);
      expect(r.value.samples).toEqual([exampleTractorSample({ seq: 7 })]);
      expect(r.value).toMatchObject({ kind: 'tractor', deviceId: 't1' });
    }
  });

  it('accepts a dead letter it produced itself', () => {
    const r = decoder.decode(
      deadLetterTopic('ingest'),
      json({ v: 1, t: EXAMPLE_T0, source: 'ingest', topic: TRACTOR, size: 3, reasons: [{ code: 'json', path: '', message: 'x' }], payload: 'e30=', truncated: false }),
    );
    expect(r.ok).toBe(true);
  });
});

describe('each kind of bad sample is refused with its reason', () => {
  it('missing field', () => {
    const { rpm: _rpm, ...rest } = exampleTractorSample();
    expect(reasonsOf(decoder.decode(TRACTOR, single(rest)))).toEqual([{ code: 'required', path: '/rpm', message: 'is required' }]);
  });

  it('wrong type', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ fuel: '76' as unknown as number }))))).toEqual([
      { code: 'type', path: '/fuel', message: 'must be number (got "76")' },
    ]);
  });

  it('NaN (not JSON)', () => {
    const text = JSON.stringify({ v: 1, ...exampleTractorSample() }).replace('"speed":2.4', '"speed":NaN');
    expect(reasonsOf(decoder.decode(TRACTOR, Buffer.from(text)))).toEqual([
      { code: 'json', path: '', message: 'not valid JSON: NaN and Infinity are not JSON numbers' },
    ]);
  });

  it('Infinity written as a number too large for a double', () => {
    const text = JSON.stringify({ v: 1, ...exampleTractorSample() }).replace('"speed":2.4', '"speed":1e999');
    expect(reasonsOf(decoder.decode(TRACTOR, Buffer.from(text)))).toEqual([
      { code: 'type', path: '/speed', message: 'must be a finite number (got non-finite number Infinity)' },
    ]);
  });

  it('Infinity as a literal', () => {
    const text = JSON.stringify({ v: 1, ...exampleTractorSample() }).replace('"speed":2.4', '"speed":-Infinity');
    expect(reasonsOf(decoder.decode(TRACTOR, Buffer.from(text)))[0]?.code).toBe('json');
  });

  it('lat 200', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ lat: 200 }))))).toEqual([
      { code: 'range', path: '/lat', message: 'must be <= 90 (got 200)' },
    ]);
  });

  it('negative speed', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ speed: -1.5 }))))).toEqual([
      { code: 'range', path: '/speed', message: 'must be >= 0 (got -1.5)' },
    ]);
  });

  it('unknown fix', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ fix: 'rtk' as 'rtk_fixed' }))))).toEqual([
      { code: 'enum', path: '/fix', message: 'must be one of none, gps, dgps, rtk_float, rtk_fixed (got "rtk")' },
    ]);
  });

  it('1 MB payload', () => {
    const big = Buffer.alloc(1024 * 1024, 0x20);
    const reasons = reasonsOf(decoder.decode(TRACTOR, big));
    expect(reasons).toEqual([{ code: 'size', path: '', message: `payload is 1048576 bytes; the limit is ${DEFAULT_DECODE_LIMITS.maxPayloadBytes}` }]);
  });

  it.each(['a,b', 'a=b', 'a b', 'a\nb', 'a"b', '+', '#', 'a/b'])('device id %j in the topic', (id) => {
    const reasons = reasonsOf(decoder.decode(`hatake/v1/tractor/${id}/telemetry`, single(exampleTractorSample())));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]?.code).toBe('topic');
    // the reason is safe to log: no raw control characters survive
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(reasons[0]?.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('unknown field', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single({ ...exampleTractorSample(), speeed: 3 })))).toEqual([
      { code: 'unknown_field', path: '/speeed', message: 'is not a field of this message' },
    ]);
  });

  it('position missing while the fix says there is one', () => {
    const { lat: _lat, lon: _lon, ...rest } = exampleTractorSample();
    expect(reasonsOf(decoder.decode(TRACTOR, single(rest)))).toEqual([
      { code: 'rule', path: '/lat', message: 'is required when fix is rtk_fixed' },
      { code: 'rule', path: '/lon', message: 'is required when fix is rtk_fixed' },
    ]);
  });

  it('a device clock that was never set', () => {
    expect(reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ t: 1000 }))))[0]).toMatchObject({ code: 'range', path: '/t' });
  });

  it('a device clock running ahead of the receive time', () => {
    const reasons = reasonsOf(decoder.decode(TRACTOR, single(exampleTractorSample({ t: EXAMPLE_T0 + 3_600_000 })), { now: EXAMPLE_T0 }));
    expect(reasons).toEqual([{ code: 'rule', path: '/t', message: 'device time is 3600 s ahead of the receive time (limit 300 s): device clock is wrong' }]);
    // the same sample is fine without a receive time to compare with
    expect(decoder.decode(TRACTOR, single(exampleTractorSample({ t: EXAMPLE_T0 + 3_600_000 }))).ok).toBe(true);
  });

  it('a sensor sample without any measurement', () => {
    const s = { t: EXAMPLE_T0, seq: 1, fix: 'none' };
    expect(reasonsOf(decoder.decode(telemetryTopic('sensor', 's1'), single(s)))[0]).toMatchObject({ code: 'rule', path: '' });
  });

  it('plow fields on a tractor topic', () => {
    const reasons = reasonsOf(decoder.decode(TRACTOR, single(examplePlowSample())));
    expect(reasons.map((r) => r.path).sort()).toEqual(['/blade', '/fuel', '/implement', '/material', '/mode', '/rate', '/rpm', '/spread', '/width'].sort());
  });
});

describe('every reason, not just the first', () => {
  it('reports all problems of one message at once', () => {
    const bad = { ...exampleTractorSample({ lat: 200, speed: -1, fix: 'x' as 'gps', fuel: 120 }), extra: true };
    const { rpm: _rpm, ...withoutRpm } = bad;
    const reasons = reasonsOf(decoder.decode(TRACTOR, single(withoutRpm)));
    expect(reasons.map((r) => `${r.code}:${r.path}`).sort()).toEqual(
      ['unknown_field:/extra', 'required:/rpm', 'range:/lat', 'range:/speed', 'range:/fuel', 'enum:/fix'].sort(),
    );
  });

  it('reports problems in every sample of a batch, with their index', () => {
    const samples = [
      exampleTractorSample({ seq: 0 }),
      exampleTractorSample({ seq: 1, lat: 200 }),
      exampleTractorSample({ seq: 1, t: EXAMPLE_T0 - 1 }),
      exampleTractorSample({ seq: 3, speed: -1 }),
    ];
    const reasons = reasonsOf(decoder.decode(TRACTOR, json({ v: 1, samples })));
    expect(reasons.map((r) => `${r.code}:${r.path}`).sort()).toEqual(
      ['range:/samples/1/lat', 'range:/samples/3/speed', 'rule:/samples/2/seq', 'rule:/samples/2/t'].sort(),
    );
  });

  it('caps a flood of problems and says how many more there were', () => {
    const samples = Array.from({ length: 80 }, (_, i) => exampleTractorSample({ seq: i, lat: 100 }));
    const reasons = reasonsOf(decoder.decode(TRACTOR, json({ v: 1, samples })));
    expect(reasons).toHaveLength(MAX_REASONS + 1);
    expect(reasons[MAX_REASONS]?.message).toBe(`more problems not listed (only the first ${MAX_REASONS} are reported)`);
    expect(reasons.slice(0, MAX_REASONS).every((r) => r.code === 'range' && /^\/samples\/\d+\/lat$/.test(r.path))).toBe(true);
  });

  it('refuses a batch above the configured limit', () => {
    const small = new Decoder({ maxBatchSamples: 2 });
    const samples = [0, 1, 2].map((seq) => exampleTractorSample({ seq, t: EXAMPLE_T0 + seq }));
    expect(reasonsOf(small.decode(TRACTOR, json({ v: 1, samples })))).toEqual([
      { code: 'range', path: '/samples', message: 'has 3 samples; at most 2 per message' },
    ]);
  });
});

describe('envelope problems', () => {
  it.each([
    ['empty', Buffer.alloc(0), 'size'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'encoding'],
    ['truncated JSON', Buffer.from('{"v":1,"t":'), 'json'],
    ['a JSON array', Buffer.from('[1,2]'), 'type'],
    ['a JSON string', Buffer.from('"hello"'), 'type'],
    ['null', Buffer.from('null'), 'type'],
    ['no version', json(exampleTractorSample()), 'required'],
    ['a future version', json({ ...exampleTractorSample(), v: 2 }), 'version'],
    ['a version as a string', json({ ...exampleTractorSample(), v: '1' }), 'version'],
  ])('%s', (_name, payload, code) => {
    const reasons = reasonsOf(decoder.decode(TRACTOR, payload));
    expect(reasons[0]?.code).toBe(code);
    expect(primaryReason(reasons)).toBe(code);
  });

  it('reports both a bad topic and a bad payload', () => {
    const reasons = reasonsOf(decoder.decode('hatake/v1/boat/b1/telemetry', Buffer.alloc(DEFAULT_DECODE_LIMITS.maxPayloadBytes + 1)));
    expect(reasons.map((r) => r.code)).toEqual(['topic', 'size']);
  });

  it('survives deeply nested JSON', () => {
    const depth = 100_000;
    const payload = Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    const reasons = reasonsOf(decoder.decode(TRACTOR, payload));
    expect(['type', 'json']).toContain(reasons[0]?.code);
  });

  it('does not let __proto__ through', () => {
    const payload = Buffer.from(`{"v":1,"__proto__":{"polluted":true},${JSON.stringify(exampleTractorSample()).slice(1)}`);
    const reasons = reasonsOf(decoder.decode(TRACTOR, payload));
    expect(reasons).toEqual([{ code: 'unknown_field', path: '/__proto__', message: 'is not a field of this message' }]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('escapes JSON-pointer characters and control characters in reported paths', () => {
    const reasons = reasonsOf(decoder.decode(TRACTOR, single({ ...exampleTractorSample(), 'a/b~c': 1 })));
    expect(reasons[0]?.path).toBe('/a~1b~0c');
  });
});

describe('rules beyond the schema', () => {
  const CMD = commandTopic('tractor', 't1');
  it.each([
    ['expiry before issue', exampleCommand({ expiresAt: EXAMPLE_T0 - 1 }), '/expiresAt'],
    ['validity over an hour', exampleCommand({ expiresAt: EXAMPLE_T0 + 3_600_001 }), '/expiresAt'],
    ['set_speed without a speed', exampleCommand({ type: 'set_speed' }), '/params/speed'],
    ['a speed on a pause', exampleCommand({ params: { speed: 1 } }), '/params/speed'],
    ['start_mission without a mission', exampleCommand({ type: 'start_mission' }), '/params/missionId'],
  ])('command: %s', (_name, cmd, path) => {
    expect(reasonsOf(decoder.decode(CMD, json(cmd)))).toEqual([expect.objectContaining({ code: 'rule', path })]);
  });

  it('command: a hostile id is a format error', () => {
    expect(reasonsOf(decoder.decode(CMD, json(exampleCommand({ id: 'a"; DROP' }))))[0]).toMatchObject({ code: 'format', path: '/id' });
  });

  it('ack: rejection without a reason', () => {
    expect(reasonsOf(decoder.decode(commandAckTopic('tractor', 't1'), json(exampleAck({ status: 'rejected' }))))).toEqual([
      { code: 'rule', path: '/reason', message: 'is required when status is rejected' },
    ]);
  });

  it('event: lat without lon; control characters in the message', () => {
    const reasons = reasonsOf(decoder.decode(eventTopic('tractor', 't1'), json(exampleEvent({ lon: undefined, message: 'bad\u0007bell' }))));
    expect(reasons.map((r) => `${r.code}:${r.path}`).sort()).toEqual(['format:/message', 'rule:/lon']);
  });

  it('event: data values must be finite numbers, short strings or booleans', () => {
    const payload = JSON.stringify(exampleEvent()).replace('"data":{"fuel":9.5}', '"data":{"fuel":1e999,"nested":{"a":1}}');
    const reasons = reasonsOf(decoder.decode(eventTopic('tractor', 't1'), Buffer.from(`{"v":1,${payload.slice(payload.indexOf('"t"'))}`)));
    expect(reasons.map((r) => `${r.code}:${r.path}`).sort()).toEqual(['type:/data/fuel', 'type:/data/nested']);
  });

  it('event: data keys must be identifiers', () => {
    const reasons = reasonsOf(decoder.decode(eventTopic('tractor', 't1'), json(exampleEvent({ data: { 'a b': 1, 'x"y': 2, ok: 3 } }))));
    expect(reasons.map((r) => `${r.code}:${r.path}`).sort()).toEqual(['unknown_field:/data/a b', 'unknown_field:/data/x"y']);
  });

  it('state: a reason on an online state', () => {
    expect(reasonsOf(decoder.decode(stateTopic('tractor', 't1'), json(exampleState({ reason: 'shutdown' }))))).toEqual([
      { code: 'rule', path: '/reason', message: 'applies only when online is false' },
    ]);
  });
});
