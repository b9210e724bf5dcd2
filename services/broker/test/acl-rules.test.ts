import { describe, expect, it } from 'vitest';
import { publishRefusal, rightsOf, subscribeRefusal, willRefusal, type Principal } from '@hatake/broker';

const t1: Principal = { type: 'device', name: 't1', kind: 'tractor' };
const ingest: Principal = { type: 'service', name: 'ingest', role: 'ingest' };
const gateway: Principal = { type: 'service', name: 'gateway', role: 'gateway' };

describe('rights', () => {
  it('lists exactly what each principal may do', () => {
    expect(rightsOf(t1)).toEqual({
      publish: ['hatake/v1/tractor/t1/telemetry', 'hatake/v1/tractor/t1/state', 'hatake/v1/tractor/t1/event', 'hatake/v1/tractor/t1/cmd/ack'],
      subscribe: ['hatake/v1/tractor/t1/cmd', 'hatake/v1/supervisor/heartbeat'],
    });
    expect(rightsOf(ingest)).toEqual({
      publish: ['hatake/v1/deadletter/ingest'],
      subscribe: ['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/state', 'hatake/v1/+/+/event', 'hatake/v1/+/+/cmd', 'hatake/v1/+/+/cmd/ack'],
    });
    expect(rightsOf(gateway)).toEqual({
      publish: ['hatake/v1/+/+/cmd', 'hatake/v1/supervisor/heartbeat'],
      subscribe: ['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/state', 'hatake/v1/+/+/event', 'hatake/v1/+/+/cmd', 'hatake/v1/+/+/cmd/ack', 'hatake/v1/deadletter/+'],
    });
  });

  it('refuses QoS 2 subscriptions, malformed shares and wildcards beyond a grant', () => {
    expect(subscribeRefusal(t1, 'hatake/v1/tractor/t1/cmd', 2)).toBe('qos_not_allowed');
    expect(subscribeRefusal(ingest, '$share//x', 1)).toBe('bad_shared_subscription');
    expect(subscribeRefusal(ingest, '$share/ingest', 1)).toBe('bad_shared_subscription');
    expect(subscribeRefusal(ingest, 'hatake/v1/+/+/+', 1)).toBe('not_granted');
    expect(subscribeRefusal(ingest, 'hatake/v1/plow/+/telemetry', 1)).toBeUndefined();
  });

  it('accepts only a device will on its own state topic', () => {
    expect(willRefusal(t1, { topic: 'hatake/v1/tractor/t1/state', qos: 1 })).toBeUndefined();
    expect(willRefusal(t1, { topic: 'hatake/v1/tractor/t1/state', qos: 2 })).toBe('qos_not_allowed');
    expect(willRefusal(t1, { topic: 'hatake/v1/tractor/t1/telemetry' })).toBe('will_not_allowed');
    expect(willRefusal(ingest, { topic: 'hatake/v1/deadletter/ingest' })).toBe('will_not_allowed');
    expect(willRefusal(ingest, undefined)).toBeUndefined();
  });

  it('refuses a gateway command to a malformed device topic', () => {
    expect(publishRefusal(gateway, 'hatake/v1/tractor/t1/cmd', false)).toBeUndefined();
    expect(publishRefusal(gateway, 'hatake/v1/boat/b1/cmd', false)).toBe('not_granted');
    expect(publishRefusal(gateway, 'hatake/v1/tractor/t$1/cmd', false)).toBe('not_granted');
  });
});
