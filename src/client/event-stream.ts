import WebSocket from 'ws';
import type { SwarmEvent } from '../domain/event.js';

/** Reconnection timing: exponential backoff with full jitter on a fraction of each delay. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: how much of each delay is random (0.5: between 50 % and 100 % of the computed delay). */
  jitter: number;
}

/** Options of {@link EventStream}. */
export interface EventStreamOptions {
  /** The gateway URL, e.g. `ws://127.0.0.1:3000/ws`. */
  url: string;
  topics?: string[];
  /** Resume after this event (e.g. one persisted by the caller); later reconnects resume after the last event seen. */
  lastEventId?: number;
  apiKey?: string;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
}

/** What the stream reports besides events. */
export type StreamNotice =
  | { kind: 'connected'; connectionId: string; lastEventId: number }
  | { kind: 'disconnected'; code: number; reason: string; retryInMs: number }
  | { kind: 'replay-gap'; message: string }
  | { kind: 'error'; code: string; message: string };

type StreamState =
  | { name: 'idle' }
  | { name: 'connecting'; socket: WebSocket; attempt: number }
  | { name: 'open'; socket: WebSocket; watchdog: NodeJS.Timeout | undefined }
  | { name: 'waiting'; timer: NodeJS.Timeout; attempt: number }
  | { name: 'closed' };

const defaultBackoff: BackoffOptions = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.5 };

/** The delay before reconnection attempt `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}

/**
 * A WebSocket subscription that survives disconnects: it reconnects with backoff and jitter,
 * resumes after the last event id it saw (so the server replays what was missed), answers
 * heartbeats, drops duplicates by id, and notices a silent server (no frame for 2.5 heartbeat
 * intervals) by reconnecting. Consume events with {@link onEvent} or `for await`.
 */
export class EventStream implements AsyncIterable<SwarmEvent> {
  private state: StreamState = { name: 'idle' };
  private lastId: number | undefined;
  private heartbeatMs = 0;
  private readonly topics: Set<string> | undefined;
  private readonly backoff: BackoffOptions;
  private readonly eventListeners = new Set<(event: SwarmEvent) => void>();
  private readonly noticeListeners = new Set<(notice: StreamNotice) => void>();

  constructor(private readonly options: EventStreamOptions) {
    this.lastId = options.lastEventId;
    this.topics = options.topics === undefined ? undefined : new Set(options.topics);
    this.backoff = { ...defaultBackoff, ...options.backoff };
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs)) throw new RangeError(`backoff delays are invalid: ${JSON.stringify(this.backoff)}`);
    if (!(this.backoff.jitter >= 0 && this.backoff.jitter <= 1)) throw new RangeError(`backoff.jitter must be within 0..1, got ${this.backoff.jitter}`);
  }

  /** The id of the newest event delivered so far. */
  get lastEventId(): number | undefined {
    return this.lastId;
  }

  get connected(): boolean {
    return this.state.name === 'open';
  }

  start(): this {
    if (this.state.name === 'idle') this.connect(0);
    return this;
  }

  onEvent(listener: (event: SwarmEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onNotice(listener: (notice: StreamNotice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  /** Adds topics now and on every reconnect. */
  subscribe(topics: string[]): void {
    this.changeTopics('SUBSCRIBE', topics);
  }

  unsubscribe(topics: string[]): void {
    this.changeTopics('UNSUBSCRIBE', topics);
  }

  /** Cuts the current connection as a network failure would (the stream reconnects and resumes); false when there was none. */
  dropConnection(): boolean {
    if (this.state.name !== 'open' && this.state.name !== 'connecting') return false;
    this.state.socket.terminate();
    return true;
  }

  /** Stops for good: closes the socket, cancels any reconnection, ends async iterators. */
  close(): void {
    const previous = this.state;
    this.state = { name: 'closed' };
    if (previous.name === 'waiting') clearTimeout(previous.timer);
    if (previous.name === 'open') clearTimeout(previous.watchdog);
    if (previous.name === 'open' || previous.name === 'connecting') previous.socket.terminate();
    for (const listener of this.noticeListeners) listener({ kind: 'disconnected', code: 1000, reason: 'closed by the client', retryInMs: -1 });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SwarmEvent> {
    const queue: SwarmEvent[] = [];
    let wake: (() => void) | undefined;
    const stopEvents = this.onEvent((event) => { queue.push(event); wake?.(); });
    const stopNotices = this.onNotice(() => wake?.());
    try {
      while (this.state.name !== 'closed' || queue.length > 0) {
        if (queue.length > 0) yield queue.shift()!;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      stopEvents();
      stopNotices();
    }
  }

  private connect(attempt: number): void {
    const url = new URL(this.options.url);
    if (this.topics !== undefined) url.searchParams.set('topics', [...this.topics].join(','));
    if (this.lastId !== undefined) url.searchParams.set('last_event_id', String(this.lastId));
    const headers = this.options.apiKey === undefined ? undefined : { authorization: `Bearer ${this.options.apiKey}` };
    const socket = new WebSocket(url, { headers });
    this.state = { name: 'connecting', socket, attempt };
    socket.on('message', (data) => this.receive(socket, String(data)));
    socket.on('close', (code, reason) => this.lost(socket, code, reason.toString()));
    socket.on('error', () => undefined);
  }

  private receive(socket: WebSocket, text: string): void {
    if (this.state.name === 'closed') return;
    let message: { type: string } & Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === 'WELCOME') return this.welcomed(socket, message);
    this.feedWatchdog(socket);
    if (message.type === 'PING') socket.send(JSON.stringify({ type: 'PONG' }));
    else if (message.type === 'ERROR') this.notice(message.code === 'REPLAY_GAP' ? { kind: 'replay-gap', message: String(message.message) } : { kind: 'error', code: String(message.code), message: String(message.message) });
    else if (typeof message.id === 'number') this.deliver(message as unknown as SwarmEvent);
  }

  private welcomed(socket: WebSocket, message: Record<string, unknown>): void {
    this.state = { name: 'open', socket, watchdog: undefined };
    this.heartbeatMs = Number(message.heartbeat_ms);
    this.feedWatchdog(socket);
    this.lastId ??= Number(message.last_event_id);
    this.notice({ kind: 'connected', connectionId: String(message.connection_id), lastEventId: Number(message.last_event_id) });
  }

  /** A server that sends nothing — not even a PING — for 2.5 heartbeats is presumed dead. */
  private feedWatchdog(socket: WebSocket): void {
    if (this.state.name !== 'open' || this.state.socket !== socket || !(this.heartbeatMs > 0)) return;
    clearTimeout(this.state.watchdog);
    this.state.watchdog = setTimeout(() => socket.terminate(), this.heartbeatMs * 2.5);
  }

  private deliver(event: SwarmEvent): void {
    if (this.lastId !== undefined && event.id <= this.lastId) return;
    this.lastId = event.id;
    for (const listener of this.eventListeners) listener(event);
  }

  private lost(socket: WebSocket, code: number, reason: string): void {
    const state = this.state;
    if ((state.name !== 'open' && state.name !== 'connecting') || state.socket !== socket) return;
    if (state.name === 'open') clearTimeout(state.watchdog);
    const attempt = state.name === 'open' ? 0 : state.attempt + 1;
    const retryInMs = backoffDelay(attempt, this.backoff, this.options.random ?? Math.random);
    this.state = { name: 'waiting', attempt, timer: setTimeout(() => this.connect(attempt), retryInMs) };
    this.notice({ kind: 'disconnected', code, reason, retryInMs });
  }

  private changeTopics(type: 'SUBSCRIBE' | 'UNSUBSCRIBE', topics: string[]): void {
    if (this.topics === undefined) throw new Error('subscribe/unsubscribe need an explicit topics list in the options');
    for (const topic of topics) type === 'SUBSCRIBE' ? this.topics.add(topic) : this.topics.delete(topic);
    if (this.state.name === 'open') this.state.socket.send(JSON.stringify({ type, topics }));
  }

  private notice(notice: StreamNotice): void {
    for (const listener of this.noticeListeners) listener(notice);
  }
}
