import type { TypedEvent } from '../domain/event.js';
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from '../domain/timing.js';
import { type ProblemDocument, readProblem } from './problem.js';
import { type SocketFactory, type StreamSocket, platformSocket } from './stream-socket.js';

/** Options of {@link EventStream}. */
export interface EventStreamOptions {
  /** The gateway URL, e.g. `ws://127.0.0.1:3000/ws`. */
  url: string;
  topics?: string[];
  /**
   * Resume after this event (e.g. one persisted by the caller); later reconnects resume after the
   * last event seen.
   */
  lastEventId?: number;
  apiKey?: string;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
  /**
   * How sockets are opened; the package's entries choose one (`ws` in Node, the platform's in
   * browsers).
   */
  socketFactory?: SocketFactory;
  /** Used once after a refused connection, to learn why (defaults to the global fetch). */
  fetch?: typeof fetch;
}

/** What the stream reports besides events. */
export type StreamNotice =
  | { kind: 'connected'; connectionId: string; lastEventId: number }
  | { kind: 'disconnected'; code: number; reason: string; retryInMs: number }
  | { kind: 'replay-gap'; message: string }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'fatal'; error: EventStreamError };

/**
 * Why a stream stopped for good: its key was refused (401), revoked while connected (4401), or
 * may not read the topics asked for (403), or the request was invalid (422). Retrying would not
 * help.
 */
export class EventStreamError extends Error {
  override name = 'EventStreamError';
  constructor(
    readonly status: number,
    readonly problem: ProblemDocument,
  ) {
    super(`${status} ${problem.title}: ${problem.detail}`);
  }
}

type StreamState =
  | { name: 'idle' }
  | { name: 'connecting'; socket: StreamSocket; attempt: number }
  | { name: 'open'; socket: StreamSocket; watchdog: ReturnType<typeof setTimeout> | undefined }
  | { name: 'checking'; attempt: number }
  | { name: 'waiting'; timer: ReturnType<typeof setTimeout>; attempt: number }
  | { name: 'closed'; error?: EventStreamError };

/** The close code of a socket whose API key was revoked (docs/events.md). */
const KEY_REVOKED = 4401;

/**
 * A WebSocket subscription that survives disconnects: it reconnects with backoff and jitter,
 * resumes after the last event id it saw (so the server replays what was missed), answers
 * heartbeats, drops duplicates by id, and notices a silent server (no frame for 2.5 heartbeat
 * intervals) by reconnecting. A refusal that retrying cannot cure (a bad or revoked key, a
 * forbidden topic) ends it with a `fatal` notice, and async iterators throw it.
 */
export class EventStream implements AsyncIterable<TypedEvent> {
  private state: StreamState = { name: 'idle' };
  private lastId: number | undefined;
  private heartbeatMs = 0;
  private readonly topics: Set<string> | undefined;
  private readonly backoff: BackoffOptions;
  private readonly openSocket: SocketFactory;
  private readonly eventListeners = new Set<(event: TypedEvent) => void>();
  private readonly noticeListeners = new Set<(notice: StreamNotice) => void>();

  constructor(private readonly options: EventStreamOptions) {
    this.lastId = options.lastEventId;
    this.topics = options.topics === undefined ? undefined : new Set(options.topics);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.openSocket = options.socketFactory ?? platformSocket;
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs))
      throw new RangeError(`backoff delays are invalid: ${JSON.stringify(this.backoff)}`);
    if (!(this.backoff.jitter >= 0 && this.backoff.jitter <= 1))
      throw new RangeError(`backoff.jitter must be within 0..1, got ${this.backoff.jitter}`);
  }

  /** The id of the newest event delivered so far. */
  get lastEventId(): number | undefined {
    return this.lastId;
  }

  get connected(): boolean {
    return this.state.name === 'open';
  }

  /** Why the stream stopped for good, if it did. */
  get error(): EventStreamError | undefined {
    // Stryker disable next-line ConditionalExpression: no state but `closed` has an error field
    return this.state.name === 'closed' ? this.state.error : undefined;
  }

  start(): this {
    if (this.state.name === 'idle') this.connect(0);
    return this;
  }

  onEvent(listener: (event: TypedEvent) => void): () => void {
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

  /** Stops for good: closes the socket, cancels any reconnection, ends async iterators. */
  close(): void {
    if (this.stop({ name: 'closed' }))
      this.notice({
        kind: 'disconnected',
        code: 1000,
        reason: 'closed by the client',
        retryInMs: -1,
      });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TypedEvent> {
    const queue: TypedEvent[] = [];
    let wake: (() => void) | undefined;
    const stopEvents = this.onEvent((event) => {
      queue.push(event);
      // Stryker disable next-line OptionalChaining: the loop below sets wake before events can come
      wake?.();
    });
    // Stryker disable next-line OptionalChaining: the loop below sets wake before notices can come
    const stopNotices = this.onNotice(() => wake?.());
    try {
      while (this.state.name !== 'closed' || queue.length > 0) {
        if (queue.length > 0) yield queue.shift()!;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
      if (this.error !== undefined) throw this.error;
    } finally /* Stryker disable next-line BlockStatement: leftover listeners hold memory */ {
      stopEvents();
      stopNotices();
    }
  }

  /** Moves to a final state, releasing the socket and timers; false when already stopped. */
  private stop(final: Extract<StreamState, { name: 'closed' }>): boolean {
    const previous = this.state;
    if (previous.name === 'closed') return false;
    this.state = final;
    // Stryker disable next-line ConditionalExpression: `true` clears an absent timer, a no-op
    if (previous.name === 'waiting') clearTimeout(previous.timer);
    // Stryker disable next-line ConditionalExpression: `true` clears an absent timer, a no-op
    if (previous.name === 'open') clearTimeout(previous.watchdog);
    if (previous.name === 'open' || previous.name === 'connecting')
      previous.socket.close(1000, 'closed by the client');
    return true;
  }

  private connect(attempt: number): void {
    const url = new URL(this.options.url);
    if (this.topics !== undefined) url.searchParams.set('topics', [...this.topics].join(','));
    if (this.lastId !== undefined) url.searchParams.set('last_event_id', String(this.lastId));
    const socket = this.openSocket(url, this.options.apiKey);
    this.state = { name: 'connecting', socket, attempt };
    socket.addEventListener('message', (event) => this.receive(socket, String(event.data)));
    socket.addEventListener('close', (event) => void this.lost(socket, event.code, event.reason));
    socket.addEventListener('error', () => undefined);
  }

  private receive(socket: StreamSocket, text: string): void {
    if (this.state.name === 'closed') return;
    let message: { type: string } & Record<string, unknown>;
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (message.type === 'WELCOME') return this.welcomed(socket, message);
    this.feedWatchdog(socket);
    if (message.type === 'PING') socket.send(JSON.stringify({ type: 'PONG' }));
    else if (message.type === 'ERROR')
      this.notice(
        message.code === 'REPLAY_GAP'
          ? { kind: 'replay-gap', message: String(message.message) }
          : { kind: 'error', code: String(message.code), message: String(message.message) },
      );
    else if (typeof message.id === 'number') this.deliver(message as unknown as TypedEvent);
  }

  private welcomed(socket: StreamSocket, message: Record<string, unknown>): void {
    this.state = { name: 'open', socket, watchdog: undefined };
    this.heartbeatMs = Number(message.heartbeat_ms);
    this.feedWatchdog(socket);
    this.lastId ??= Number(message.last_event_id);
    this.notice({
      kind: 'connected',
      connectionId: String(message.connection_id),
      lastEventId: Number(message.last_event_id),
    });
  }

  /** A server that sends nothing — not even a PING — for 2.5 heartbeats is presumed dead. */
  private feedWatchdog(socket: StreamSocket): void {
    // The server's first message is WELCOME (docs/events.md): nothing else comes while connecting.
    // Stryker disable next-line ConditionalExpression: so no test can send one then
    if (this.state.name !== 'open' || this.state.socket !== socket || !(this.heartbeatMs > 0))
      return;
    clearTimeout(this.state.watchdog);
    this.state.watchdog = setTimeout(() => {
      socket.close(4000, 'server silent');
      void this.lost(socket, 1006, 'server silent');
    }, this.heartbeatMs * 2.5);
  }

  private deliver(event: TypedEvent): void {
    // Stryker disable next-line ConditionalExpression: `id <= undefined` is false as well
    if (this.lastId !== undefined && event.id <= this.lastId) return;
    this.lastId = event.id;
    for (const listener of this.eventListeners) listener(event);
  }

  /**
   * A lost connection: fatal when the key was revoked or the upgrade was refused for good, else
   * retried.
   */
  private async lost(socket: StreamSocket, code: number, reason: string): Promise<void> {
    const state = this.state;
    // Stryker disable next-line ConditionalExpression: only these states hold a socket; TS needs it
    if ((state.name !== 'open' && state.name !== 'connecting') || state.socket !== socket) return;
    // Stryker disable next-line ConditionalExpression: `true` clears an absent timer, a no-op
    if (state.name === 'open') clearTimeout(state.watchdog);
    if (code === KEY_REVOKED) return this.fail(revokedError(reason));
    const attempt = state.name === 'open' ? 0 : state.attempt + 1;
    if (state.name === 'connecting') {
      // Stryker disable next-line ObjectLiteral,StringLiteral: it is known by identity, not name
      const checking: StreamState = { name: 'checking', attempt };
      this.state = checking;
      const refusal = await this.refusal();
      if (this.state !== checking) return;
      if (refusal !== undefined) return this.fail(refusal);
    }
    const retryInMs = backoffDelay(attempt, this.backoff, this.options.random ?? Math.random);
    this.state = {
      name: 'waiting',
      attempt,
      timer: setTimeout(() => this.connect(attempt), retryInMs),
    };
    this.notice({ kind: 'disconnected', code, reason, retryInMs });
  }

  /**
   * Browsers do not say why an upgrade failed, so after a refused connection the stream asks the
   * same question over HTTP (the event log with the same key and topics): a 4xx other than 408
   * and 429 is final; anything else, a network error included, is worth another try.
   */
  private async refusal(): Promise<EventStreamError | undefined> {
    const url = new URL(this.options.url);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = url.pathname.replace(/\/ws$/, '/api/v1/events');
    url.search = '';
    url.searchParams.set('limit', '1');
    if (this.topics !== undefined) url.searchParams.set('topic', [...this.topics].join(','));
    const headers: Record<string, string> =
      this.options.apiKey === undefined ? {} : { authorization: `Bearer ${this.options.apiKey}` };
    try {
      const response = await (this.options.fetch ?? globalThis.fetch.bind(globalThis))(url, {
        headers,
      });
      const final =
        response.status >= 400 &&
        response.status < 500 &&
        response.status !== 408 &&
        response.status !== 429;
      return final ? new EventStreamError(response.status, await readProblem(response)) : undefined;
    } /* Stryker disable next-line BlockStatement: an empty catch returns undefined too */ catch {
      return undefined;
    }
  }

  private fail(error: EventStreamError): void {
    if (this.stop({ name: 'closed', error })) this.notice({ kind: 'fatal', error });
  }

  private changeTopics(type: 'SUBSCRIBE' | 'UNSUBSCRIBE', topics: string[]): void {
    if (this.topics === undefined)
      throw new Error('subscribe/unsubscribe need an explicit topics list in the options');
    for (const topic of topics) {
      if (type === 'SUBSCRIBE') this.topics.add(topic);
      else this.topics.delete(topic);
    }
    if (this.state.name === 'open') this.state.socket.send(JSON.stringify({ type, topics }));
  }

  private notice(notice: StreamNotice): void {
    for (const listener of this.noticeListeners) listener(notice);
  }
}

function revokedError(reason: string): EventStreamError {
  const detail = reason === '' ? 'The API key was revoked' : reason;
  return new EventStreamError(401, {
    type: '/problems/unauthorized',
    title: 'Unauthorized',
    status: 401,
    detail,
  });
}
