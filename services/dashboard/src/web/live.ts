/**
 * The live stream (`/ws`, subprotocols `hatake.v1` and `bearer.<token>`),
 * kept open: a lost connection is reopened with a growing delay (0.5 s to
 * 10 s), a silent one (no answer to pings) is closed and reopened, and the
 * session ends when the gateway says the token expired (4001).
 */
import type { LiveMessage } from './types.ts';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface LiveLinkOptions {
  readonly url: string;
  readonly token: string;
  /** After each (re)connection, before any message: what to subscribe to. */
  readonly onOpen: (send: (m: object) => void) => void;
  readonly onMessage: (m: LiveMessage) => void;
  readonly onState: (state: LinkState, detail: string) => void;
  /** The gateway ended the session (token expired). */
  readonly onExpired: () => void;
  /** A ping's answer: sent at (local ms), the gateway's time. */
  readonly onPong?: (sentAt: number, serverT: number) => void;
}

const PING_MS = 5000;
/** No message for this long: the connection is taken as dead. */
const SILENT_MS = 15_000;
const MAX_DELAY_MS = 10_000;

export class LiveLink {
  private readonly opts: LiveLinkOptions;
  private socket: WebSocket | undefined;
  private attempts = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private pingSentAt = 0;
  private stopped = false;
  state: LinkState = 'connecting';

  constructor(opts: LiveLinkOptions) {
    this.opts = opts;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pinger);
    this.socket?.close(1000, 'signed out');
    this.socket = undefined;
    this.setState('closed', 'signed out');
  }

  /** Sends when connected; false otherwise. */
  send(m: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(m));
    return true;
  }

  private setState(state: LinkState, detail: string): void {
    this.state = state;
    this.opts.onState(state, detail);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState(this.attempts === 0 ? 'connecting' : 'reconnecting', this.attempts === 0 ? 'connecting…' : `reconnecting (attempt ${this.attempts + 1})…`);
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.opts.url, ['hatake.v1', `bearer.${this.opts.token}`]);
    } catch {
      this.scheduleRetry('cannot open the live stream');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.lastHeard = Date.now();
      this.opts.onOpen((m) => socket.send(JSON.stringify(m)));
      this.setState('live', 'live');
      // a ping at once: the clock offset (latencies) is known from the start
      this.pingSentAt = Date.now();
      socket.send('{"type":"ping"}');
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.ping(socket), PING_MS);
    };
    socket.onmessage = (e: MessageEvent) => {
      this.lastHeard = Date.now();
      let m: LiveMessage;
      try {
        m = JSON.parse(String(e.data)) as LiveMessage;
      } catch {
        return;
      }
      if (m.type === 'pong' && this.pingSentAt > 0) this.opts.onPong?.(this.pingSentAt, m.t);
      this.opts.onMessage(m);
    };
    socket.onclose = (e: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (e.code === 4001) {
        this.setState('closed', 'session expired');
        this.opts.onExpired();
        return;
      }
      this.scheduleRetry(e.code === 1001 ? 'the gateway is restarting' : e.code === 1008 ? 'too far behind' : 'connection lost');
    };
  }

  private ping(socket: WebSocket): void {
    if (Date.now() - this.lastHeard > SILENT_MS) {
      // a half-open connection: nothing has come back for a while
      socket.close(4000, 'silent');
      this.socket = undefined;
      clearInterval(this.pinger);
      this.scheduleRetry('no answer from the gateway');
      return;
    }
    this.pingSentAt = Date.now();
    if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}');
  }

  private scheduleRetry(why: string): void {
    if (this.stopped) return;
    const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempts) * (0.8 + Math.random() * 0.4);
    this.attempts++;
    this.setState('reconnecting', `${why}: retrying in ${Math.ceil(delay / 1000)} s`);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), delay);
  }
}
