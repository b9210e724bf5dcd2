import { describe, expect, it } from 'vitest';
import {
  HEARTBEAT_TOPIC,
  filterCovers,
  splitSharedFilter,
  topicMatches,
  clientIdAllowed,
  commandAckTopic,
  commandTopic,
  deadLetterTopic,
  deviceChannelFilter,
  eventTopic,
  explainInvalidId,
  formatTopic,
  isValidId,
  parseTopic,
  sharedFilter,
  stateTopic,
  telemetryTopic,
} from '@hatake/protocol';

export const HOSTILE_IDS = [
  'a,b',
  'a=b',
  'a b',
  'a\nb',
  'a"b',
  '+',
  '#',
  'a/b',
  '$SYS',
  '',
  'x'.repeat(65),
  '-leading',
  'a:b',
  'ü',
  'a\u0000b',
];

describe('topic builders', () => {
  it('build every channel', () => {
    expect(telemetryTopic('tractor', 't-1')).toBe('hatake/v1/tractor/t-1/telemetry');
    expect(stateTopic('plow', 'p1')).toBe('hatake/v1/plow/p1/state');
    expect(eventTopic('sensor', 's1')).toBe('hatake/v1/sensor/s1/event');
    expect(commandTopic('tractor', 't1')).toBe('hatake/v1/tractor/t1/cmd');
    expect(commandAckTopic('tractor', 't1')).toBe('hatake/v1/tractor/t1/cmd/ack');
    expect(HEARTBEAT_TOPIC).toBe('hatake/v1/supervisor/heartbeat');
    expect(deadLetterTopic('ingest')).toBe('hatake/v1/deadletter/ingest');
    expect(deviceChannelFilter('telemetry')).toBe('hatake/v1/+/+/telemetry');
    expect(deviceChannelFilter('state', 'plow')).toBe('hatake/v1/plow/+/state');
    expect(sharedFilter('ingest', deviceChannelFilter('telemetry'))).toBe('$share/ingest/hatake/v1/+/+/telemetry');
  });

  it.each(HOSTILE_IDS)('refuse to build a topic for hostile id %j', (id) => {
    expect(() => telemetryTopic('tractor', id)).toThrowError(expect.objectContaining({ code: 'HATAKE_ERR_PROTOCOL_INVALID_ID' }));
    expect(isValidId(id)).toBe(false);
    expect(explainInvalidId(id)).toEqual(expect.any(String));
  });

  it('refuse an unknown kind', () => {
    expect(() => telemetryTopic('boat' as 'tractor', 'b1')).toThrowError(expect.objectContaining({ code: 'HATAKE_ERR_PROTOCOL_UNKNOWN_KIND' }));
  });
});

describe('parseTopic', () => {
  it('round-trips every topic shape', () => {
    for (const topic of [
      telemetryTopic('tractor', 't1'),
      stateTopic('plow', 'p-2'),
      eventTopic('sensor', 'S_3'),
      commandTopic('tractor', 't1'),
      commandAckTopic('tractor', 't1'),
      HEARTBEAT_TOPIC,
      deadLetterTopic('ingest'),
    ]) {
      const parsed = parseTopic(topic);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(formatTopic(parsed.topic)).toBe(topic);
    }
    expect(parseTopic('hatake/v1/tractor/t1/cmd/ack')).toEqual({
      ok: true,
      topic: { type: 'device', kind: 'tractor', deviceId: 't1', channel: 'cmd/ack' },
    });
  });

  it.each([
    ['', 'empty'],
    ['other/v1/tractor/t1/telemetry', 'does not start with'],
    ['hatake/v2/tractor/t1/telemetry', 'does not start with'],
    ['hatake/v1/boat/b1/telemetry', 'unknown device kind'],
    ['hatake/v1/tractor', 'no device id'],
    ['hatake/v1/tractor/t1', 'unknown channel'],
    ['hatake/v1/tractor/t1/telemetry/extra', 'unknown channel'],
    ['hatake/v1/tractor/t1/cmd/nack', 'unknown channel'],
    ['hatake/v1/tractor/a,b/telemetry', 'device id must match'],
    ['hatake/v1/tractor/a b/telemetry', 'device id must match'],
    ['hatake/v1/tractor/a"b/telemetry', 'device id must match'],
    ['hatake/v1/tractor/+/telemetry', 'device id must match'],
    ['hatake/v1/tractor/#', 'device id must match'],
    ['hatake/v1/tractor//telemetry', 'device id must not be empty'],
    ['hatake/v1/deadletter/bad source', 'dead-letter source'],
    [`hatake/v1/tractor/${'x'.repeat(600)}/telemetry`, 'at most 512'],
  ])('refuses %j with a reason', (topic, reason) => {
    const parsed = parseTopic(topic);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('clientIdAllowed', () => {
  it('binds client ids to the principal', () => {
    expect(clientIdAllowed('t1', 't1')).toBe(true);
    expect(clientIdAllowed('ingest', 'ingest:host-a.1')).toBe(true);
    expect(clientIdAllowed('t1', 't10')).toBe(false);
    expect(clientIdAllowed('t1', 't1-x')).toBe(false);
    expect(clientIdAllowed('t1', 't1:')).toBe(false);
    expect(clientIdAllowed('t1', 't1:a/b')).toBe(false);
    expect(clientIdAllowed('t1', 't2')).toBe(false);
  });
});

describe('topic filters', () => {
  it.each([
    ['hatake/v1/+/+/telemetry', 'hatake/v1/tractor/t1/telemetry', true],
    ['hatake/v1/+/+/telemetry', 'hatake/v1/tractor/+/telemetry', true],
    ['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/telemetry', true],
    ['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/#', false],
    ['hatake/v1/+/+/telemetry', 'hatake/v1/#', false],
    ['hatake/v1/+/+/telemetry', '#', false],
    ['hatake/v1/+/+/telemetry', 'hatake/v1/tractor/t1/state', false],
    ['hatake/v1/+/+/cmd', 'hatake/v1/tractor/t1/cmd/ack', false],
    ['hatake/v1/tractor/t1/cmd', 'hatake/v1/tractor/+/cmd', false],
    ['hatake/v1/tractor/t1/cmd', 'hatake/v1/tractor/t1/cmd', true],
    ['hatake/v1/#', 'hatake/v1', true],
    ['hatake/v1/#', 'hatake/v1/a/b/c', true],
    ['hatake/v1/+', 'hatake/v1', false],
  ])('%s covers %s: %s', (allowed, requested, expected) => {
    expect(filterCovers(allowed, requested)).toBe(expected);
  });

  it('matches topics, keeping $-topics out of root wildcards', () => {
    expect(topicMatches('hatake/v1/+/+/telemetry', 'hatake/v1/plow/p1/telemetry')).toBe(true);
    expect(topicMatches('#', '$SYS/broker/x')).toBe(false);
    expect(topicMatches('+/broker/x', '$SYS/broker/x')).toBe(false);
  });

  it('splits shared subscriptions', () => {
    expect(splitSharedFilter('$share/ingest/hatake/v1/+/+/telemetry')).toEqual({ group: 'ingest', filter: 'hatake/v1/+/+/telemetry' });
    expect(splitSharedFilter('hatake/v1/#')).toEqual({ filter: 'hatake/v1/#' });
    expect(splitSharedFilter('$share/')).toEqual({ group: '', filter: '' });
  });
});
