/**
 * Acknowledging only what is durable. mqtt.js sends a QoS 1 PUBACK as soon as
 * a message is handled, and holding its handler back would stall every
 * message behind it. The gate takes over the client's PUBACKs instead: each
 * received message gets a token; its PUBACK is held until the token is
 * settled (its records stored or spooled, or the message dead-lettered) and
 * every message received before it is acknowledged too — MQTT wants PUBACKs
 * in the order the PUBLISHes came (3.1.1 §4.6). Messages keep flowing
 * meanwhile, up to `maxUnacked`; beyond that the gate stops mqtt.js reading
 * (the socket fills, the broker holds the rest) until acknowledgements catch
 * up. A connection that drops takes its held PUBACKs with it: the broker
 * redelivers those messages to the next session, and writing them again
 * changes nothing (the store's writes are idempotent).
 */
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import { IngestError } from './errors.ts';

export interface AckToken {
  readonly messageId: number;
  /** Receive time, ms. */
  readonly at: number;
  readonly generation: number;
  settled: boolean;
  /** The PUBACK mqtt.js wanted to send, once it has. */
  puback: Packet | undefined;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;

const noop = (): void => undefined;

export class AckGate {
  private readonly maxUnacked: number;
  private readonly now: () => number;
  private fifo: (AckToken | undefined)[] = [];
  private head = 0;
  private readonly byId = new Map<number, AckToken>();
  private readonly stalled: (() => void)[] = [];
  private generation = 0;
  private send: SendPacket | undefined;
  private client: MqttClient | undefined;
  private paused = false;
  private readonly onAck: (n: number) => void;

  constructor(opts: { maxUnacked: number; now: () => number; onAck?: (n: number) => void }) {
    this.maxUnacked = opts.maxUnacked;
    this.now = opts.now;
    this.onAck = opts.onAck ?? noop;
  }

  /** Takes over `client`'s PUBACKs; call before it reads any packet. */
  attach(client: MqttClient): void {
    const c = client as unknown as { _sendPacket?: SendPacket };
    if (typeof c._sendPacket !== 'function') throw new IngestError('HATAKE_ERR_INGEST_MQTT_CLIENT', 'mqtt.js has no _sendPacket: cannot hold acknowledgements back');
    const original = c._sendPacket.bind(client);
    this.client = client;
    this.send = original;
    c._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const token = packet.cmd === 'puback' && packet.messageId !== undefined ? this.byId.get(packet.messageId) : undefined;
      if (!token) {
        original(packet, cb, cbStorePut, noStore);
        return;
      }
      token.puback = packet;
      this.release();
      // mqtt.js reads the next packet when this callback runs: not calling it yet is the back-pressure
      const next = cb ?? noop;
      if (this.paused || this.unacked >= this.maxUnacked) this.stalled.push(() => next());
      else next();
    };
    client.on('close', () => this.reset());
  }

  /** A token for a received message; undefined for QoS 0 (nothing to acknowledge). */
  receive(packet: IPublishPacket): AckToken | undefined {
    if (!packet.qos || packet.messageId === undefined) return undefined;
    const token: AckToken = { messageId: packet.messageId, at: this.now(), generation: this.generation, settled: false, puback: undefined };
    this.fifo.push(token);
    this.byId.set(packet.messageId, token);
    return token;
  }

  /** The message's records are durable (or it was dead-lettered): its PUBACK may go. */
  settle(token: AckToken | undefined): void {
    if (!token || token.settled) return;
    token.settled = true;
    if (token.generation === this.generation) this.release();
  }

  /** Whether the token's connection is gone (its message will be redelivered). */
  stale(token: AckToken): boolean {
    return token.generation !== this.generation;
  }

  /** Messages received on this connection and not yet acknowledged. */
  get unacked(): number {
    return this.fifo.length - this.head;
  }

  /** Age of the oldest message not yet acknowledged, ms (0 when none). */
  oldestAge(): number {
    const t = this.fifo[this.head];
    return t ? this.now() - t.at : 0;
  }

  /** Whether mqtt.js is held from reading more. */
  get stalling(): boolean {
    return this.stalled.length > 0;
  }

  /** Stops reading new messages (shutdown); acknowledgements still go out. */
  pause(): void {
    this.paused = true;
  }

  private release(): void {
    const connected = this.client?.connected === true;
    let acked = 0;
    while (this.head < this.fifo.length) {
      const t = this.fifo[this.head]!;
      if (!t.settled || !t.puback) break;
      if (this.byId.get(t.messageId) === t) this.byId.delete(t.messageId);
      if (connected) {
        this.send?.(t.puback);
        acked++;
      }
      this.fifo[this.head++] = undefined;
    }
    if (acked > 0) this.onAck(acked);
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    while (this.stalled.length > 0 && !this.paused && this.unacked < this.maxUnacked) this.stalled.shift()!();
  }

  /** The connection is gone: its held PUBACKs can never be sent (the broker redelivers those messages). */
  private reset(): void {
    this.generation++;
    this.fifo = [];
    this.head = 0;
    this.byId.clear();
    // let the old connection's packet loop finish (mqtt.js drops what a superseded connection had queued)
    for (const next of this.stalled.splice(0)) next();
  }
}
