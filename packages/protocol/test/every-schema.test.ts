/**
 * Every schema refuses each kind of bad input with its reason: a missing
 * required field, a wrong type, NaN, Infinity, an unknown field, a hostile
 * device id in the topic.
 */
import { describe, expect, it } from 'vitest';
import {
  Decoder,
  HEARTBEAT_TOPIC,
  commandAckTopic,
  commandTopic,
  eventTopic,
  exampleAck,
  exampleCommand,
  exampleEvent,
  exampleHeartbeat,
  examplePlowSample,
  exampleSensorSample,
  exampleState,
  exampleTractorSample,
  stateTopic,
  telemetryTopic,
} from '@hatake/protocol';

const decoder = new Decoder();

/** [schema, topic builder for a device id, a valid message, a required field, a numeric field] */
const CASES = [
  ['tractor telemetry', (id: string) => telemetryTopic('tractor', id), { v: 1, ...exampleTractorSample() }, 'mode', 'fuel'],
  ['plow telemetry', (id: string) => telemetryTopic('plow', id), { v: 1, ...examplePlowSample() }, 'blade', 'spread'],
  ['sensor telemetry', (id: string) => telemetryTopic('sensor', id), { v: 1, ...exampleSensorSample() }, 'seq', 'soilMoisture'],
  ['state', (id: string) => stateTopic('tractor', id), exampleState(), 'online', 't'],
  ['event', (id: string) => eventTopic('plow', id), exampleEvent(), 'severity', 'lat'],
  ['command', (id: string) => commandTopic('tractor', id), exampleCommand(), 'issuer', 'expiresAt'],
  ['command ack', (id: string) => commandAckTopic('tractor', id), exampleAck(), 'status', 't'],
  ['heartbeat', () => HEARTBEAT_TOPIC, exampleHeartbeat(), 'source', 'interval'],
] as const;

describe.each(CASES)('%s', (_name, topicFor, good, required, numeric) => {
  const topic = topicFor('dev-1');
  const codeOf = (payload: string): string[] => {
    const r = decoder.decode(topic, Buffer.from(payload));
    return r.ok ? [] : r.reasons.map((x) => `${x.code}:${x.path}`);
  };

  it('accepts the good message', () => {
    expect(codeOf(JSON.stringify(good))).toEqual([]);
  });
  it('refuses it without a required field', () => {
    const { [required]: _gone, ...rest } = good as Record<string, unknown>;
    expect(codeOf(JSON.stringify(rest))).toContain(`required:/${required}`);
  });
  it('refuses a wrong type', () => {
    expect(codeOf(JSON.stringify({ ...good, [numeric]: 'seven' }))).toEqual([`type:/${numeric}`]);
  });
  it('refuses NaN and Infinity', () => {
    const nan = JSON.stringify({ ...good, [numeric]: 12345 }).replace('12345', 'NaN');
    expect(codeOf(nan)).toEqual(['json:']);
    const inf = JSON.stringify({ ...good, [numeric]: 12345 }).replace('12345', '1e999');
    expect(codeOf(inf)).toEqual([`type:/${numeric}`]);
  });
  it('refuses an unknown field', () => {
    expect(codeOf(JSON.stringify({ ...good, surprise: 1 }))).toEqual(['unknown_field:/surprise']);
  });
  it('refuses a payload over the limit', () => {
    expect(codeOf(JSON.stringify({ ...good, pad: 'x'.repeat(300_000) }))).toEqual(['size:']);
  });
});

describe.each(['a,b', 'a=b', 'a b', 'a\nb', 'a"b', 'a+b', 'a#b'])('device id %j', (id) => {
  it.each(CASES.filter((c) => c[0] !== 'heartbeat'))('is refused on the %s topic', (_name, topicFor, good) => {
    // build the topic by hand: the builders refuse such ids outright
    const topic = topicFor('X').replace('/X/', `/${id}/`);
    const r = decoder.decode(topic, Buffer.from(JSON.stringify(good)));
    expect(r.ok ? [] : r.reasons.map((x) => x.code)).toEqual(['topic']);
  });
});
