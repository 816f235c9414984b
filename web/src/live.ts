import { EventStream, type StreamNotice } from '../../src/client/browser.js';
import type { AnyEvent } from './types.js';

/** Where the one socket stands, as the banner shows it. */
export type LiveState =
  | { name: 'connecting' }
  | { name: 'live' }
  | { name: 'reconnecting'; retryInMs: number }
  | { name: 'stopped'; reason: string };

type Listener<T> = (value: T) => void;

/**
 * The page's one WebSocket, through the client SDK's reconnecting {@link EventStream}: after a
 * drop it reconnects and resumes after the last event it delivered, so the service replays what
 * the page missed and every panel applies it as if it had arrived live. A resume the log can no
 * longer serve (`REPLAY_GAP`) makes every panel load its data again.
 */
export class Live {
  private readonly stream: EventStream;
  private readonly events = new Set<Listener<AnyEvent>>();
  private readonly states = new Set<Listener<LiveState>>();
  private readonly resyncs = new Set<() => void>();
  private current: LiveState = { name: 'connecting' };
  private everConnected = false;
  private readonly firstConnect: Promise<void>;

  constructor(apiKey: string | undefined) {
    this.stream = new EventStream({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
      apiKey,
      // A dashboard wants the socket back soon after the service is: at most 2 s between tries.
      backoff: { initialMs: 100, maxMs: 2_000 },
    });
    let connected = () => undefined as void;
    this.firstConnect = new Promise((resolve) => (connected = resolve));
    this.stream.onEvent((event) => {
      for (const listener of this.events) listener(event);
    });
    this.stream.onNotice((notice) => this.noticed(notice, connected));
  }

  start(): this {
    this.stream.start();
    return this;
  }

  close(): void {
    this.stream.close();
  }

  get state(): LiveState {
    return this.current;
  }

  /** The id of the newest event delivered, once connected. */
  get lastEventId(): number | undefined {
    return this.stream.lastEventId;
  }

  /** Resolves at the first connection, or after `timeoutMs` when the socket cannot open. */
  ready(timeoutMs: number): Promise<void> {
    return Promise.race([this.firstConnect, new Promise<void>((r) => setTimeout(r, timeoutMs))]);
  }

  onEvent(listener: Listener<AnyEvent>): () => void {
    this.events.add(listener);
    return () => this.events.delete(listener);
  }

  onState(listener: Listener<LiveState>): () => void {
    this.states.add(listener);
    return () => this.states.delete(listener);
  }

  /** Called when the page may have missed events it cannot get back: load everything again. */
  onResync(listener: () => void): () => void {
    this.resyncs.add(listener);
    return () => this.resyncs.delete(listener);
  }

  private noticed(notice: StreamNotice, connected: () => void): void {
    if (notice.kind === 'connected') {
      this.everConnected = true;
      connected();
      this.set({ name: 'live' });
    } else if (notice.kind === 'disconnected' && notice.retryInMs >= 0) {
      this.set({ name: 'reconnecting', retryInMs: notice.retryInMs });
    } else if (notice.kind === 'replay-gap') {
      for (const listener of this.resyncs) listener();
    } else if (notice.kind === 'fatal') {
      this.set({ name: 'stopped', reason: notice.error.problem.detail });
    }
  }

  private set(state: LiveState): void {
    if (state.name === 'live' && this.current.name === 'live') return;
    this.current = state;
    for (const listener of this.states) listener(state);
  }

  /** Whether the socket has been open at least once. */
  get hasConnected(): boolean {
    return this.everConnected;
  }
}
