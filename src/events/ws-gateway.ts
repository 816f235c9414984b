import type { Logger } from '../domain/logger.js';
import { randomUUID } from 'node:crypto';
import { type LoggedEvent, rootTopics, toEnvelope } from '../domain/event.js';
import type { Database } from '../store/database.js';
import type { EventDispatcher } from './event-dispatcher.js';
import type { EventLog } from './event-log.js';
import { MessageBudget } from './message-budget.js';
import { type ServerMessage, parseClientMessage } from './ws-protocol.js';

/** The part of a `ws` WebSocket the gateway uses, so tests can stand in for it. */
export interface GatewaySocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(
    event: 'message',
    listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void,
  ): unknown;
  on(event: 'pong' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Limits and timings of the gateway: positive integers, from the WS_* settings config.ts
 * validates once (the gateway does not check them again).
 */
export interface GatewayOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
  maxConnections: number;
  replayBatchSize?: number;
  /** Most topics one connection may hold (default {@link MAX_TOPICS_PER_CONNECTION}). */
  maxTopics?: number;
}

/** Most topics one connection may hold; a SUBSCRIBE past it is refused with TOO_MANY_TOPICS. */
export const MAX_TOPICS_PER_CONNECTION = 200;
/**
 * Control messages a connection may send at once, and per second after that, before it is closed.
 */
export const CONTROL_MESSAGE_BURST = 60;
export const CONTROL_MESSAGES_PER_SECOND = 10;
/** A replay sends on while the socket holds at most this many unsent bytes, else it waits. */
export const REPLAY_LOW_WATER_BYTES = 256 * 1024;
/** How long a slow consumer has to complete the closing handshake before its socket is cut. */
const SLOW_CONSUMER_CLOSE_GRACE_MS = 1_000;
/** How often a paused replay looks at the socket's unsent bytes again. */
const DRAIN_POLL_MS = 20;
/** Live events held for a connection still replaying; past this it is closed as a slow consumer. */
export const MAX_EVENTS_HELD_DURING_REPLAY = 10_000;

/**
 * Which of the given API keys are still valid; the gateway asks every `intervalMs` for the keys
 * of its open sockets and closes those of the others (revoked or deleted) with 4401.
 */
export interface KeyCheck {
  intervalMs: number;
  activeKeys(keyIds: readonly string[]): Promise<ReadonlySet<string>>;
}

/**
 * Where a new connection starts: its topics (null: all it may read), the last event it already
 * has (undefined: none), and the topics its key may read at all (null: every topic). The caller
 * checks the requested topics against `allowedTopics`; later SUBSCRIBEs are checked here.
 */
export interface ConnectRequest {
  topics: string[] | null;
  lastEventId: number | undefined;
  allowedTopics: readonly string[] | null;
  /** The API key the socket was opened with (null with AUTH=off). */
  keyId: string | null;
}

/** Close codes the gateway uses; 4401: the socket's API key was revoked. */
export const CloseCode = {
  goingAway: 1001,
  policyViolation: 1008,
  tryAgainLater: 1013,
  keyRevoked: 4401,
} as const;

const OPEN = 1;

type Phase = { name: 'replaying'; buffered: LoggedEvent[] } | { name: 'live' } | { name: 'closed' };

interface Connection {
  id: string;
  socket: GatewaySocket;
  topics: Set<string>;
  allowedTopics: ReadonlySet<string> | null;
  keyId: string | null;
  budget: MessageBudget;
  lastSentId: number;
  alive: boolean;
  phase: Phase;
}

/** Something the gateway can log to. */
export type GatewayLogger = Pick<Logger, 'info' | 'warn'>;

/**
 * Serves the live event stream: a WELCOME, then a replay of the log after the client's
 * `last_event_id`, then live events, with no gap and no duplicate at the seam (live events that
 * arrive during the replay wait in a per-connection buffer, and every send skips ids already
 * sent). Also runs the heartbeat and enforces the connection and buffer limits.
 */
export class WebSocketGateway {
  private readonly connections = new Map<string, Connection>();
  private heartbeat: NodeJS.Timeout | undefined;
  private keyTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly replayBatchSize: number;
  /** Frames sent and received since start, for metrics. */
  readonly traffic = { sent: 0, received: 0 };

  constructor(
    private readonly db: Database,
    private readonly log: EventLog,
    private readonly dispatcher: EventDispatcher,
    private readonly options: GatewayOptions,
    private readonly logger: GatewayLogger,
  ) {
    this.replayBatchSize = options.replayBatchSize ?? 500;
    this.maxTopics = options.maxTopics ?? MAX_TOPICS_PER_CONNECTION;
  }

  private readonly maxTopics: number;

  get connectionCount(): number {
    return this.connections.size;
  }

  start(): void {
    this.unsubscribe = this.dispatcher.subscribe((event) => this.broadcast(event));
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
  }

  /** Closes every socket with 1001 so clients reconnect elsewhere, and stops the heartbeat. */
  stop(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.keyTimer);
    this.unsubscribe?.();
    for (const connection of this.connections.values())
      this.close(connection, CloseCode.goingAway, 'server shutting down');
  }

  /** Re-checks the keys of open sockets every `check.intervalMs`, until {@link stop}. */
  watchKeys(check: KeyCheck): void {
    clearInterval(this.keyTimer);
    this.keyTimer = setInterval(() => void this.checkKeys(check), check.intervalMs);
  }

  /** Closes every socket opened with `keyId` (4401), e.g. at once when this instance revokes it. */
  closeKey(keyId: string): void {
    for (const connection of this.connections.values()) {
      if (connection.keyId === keyId)
        this.close(connection, CloseCode.keyRevoked, 'API key revoked');
    }
  }

  private async checkKeys(check: KeyCheck): Promise<void> {
    const keyIds = new Set<string>();
    for (const { keyId } of this.connections.values()) if (keyId !== null) keyIds.add(keyId);
    if (keyIds.size === 0) return;
    try {
      const active = await check.activeKeys([...keyIds]);
      for (const keyId of keyIds) if (!active.has(keyId)) this.closeKey(keyId);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not re-check the API keys of open sockets; retrying');
    }
  }

  /** Takes over a freshly upgraded socket. */
  async accept(socket: GatewaySocket, request: ConnectRequest): Promise<void> {
    if (this.connections.size >= this.options.maxConnections) {
      socket.close(CloseCode.tryAgainLater, 'connection limit reached');
      return;
    }
    const connection = this.register(socket, request);
    const head = this.dispatcher.lastDeliveredId;
    this.sendControl(connection, {
      type: 'WELCOME',
      connection_id: connection.id,
      last_event_id: request.lastEventId ?? head,
      heartbeat_ms: this.options.heartbeatMs,
      topics: [...connection.topics],
    });
    try {
      await this.replay(connection, request.lastEventId, head);
    } catch (error) {
      this.logger.warn(
        { err: error, connection: connection.id },
        // Stryker disable next-line StringLiteral: log wording, no contract (docs/events.md)
        'replay failed; closing so the client retries',
      );
      this.close(connection, CloseCode.tryAgainLater, 'replay failed');
    }
  }

  private register(socket: GatewaySocket, request: ConnectRequest): Connection {
    const { allowedTopics, keyId } = request;
    const connection: Connection = {
      id: randomUUID(),
      socket,
      topics: new Set(request.topics ?? allowedTopics ?? rootTopics),
      allowedTopics: allowedTopics === null ? null : new Set(allowedTopics),
      keyId,
      budget: new MessageBudget(CONTROL_MESSAGE_BURST, CONTROL_MESSAGES_PER_SECOND),
      lastSentId: 0,
      alive: true,
      phase: { name: 'replaying', buffered: [] },
    };
    this.connections.set(connection.id, connection);
    socket.on('message', (data, isBinary) => this.onMessage(connection, data, isBinary));
    socket.on('pong', () => void (connection.alive = true));
    socket.on('close', () => this.forget(connection));
    socket.on('error', (error) =>
      // Stryker disable next-line StringLiteral: log wording, no contract (docs/events.md)
      this.logger.warn({ err: error, connection: connection.id }, 'socket error'),
    );
    return connection;
  }

  private async replay(
    connection: Connection,
    lastEventId: number | undefined,
    head: number,
  ): Promise<void> {
    connection.lastSentId = lastEventId ?? head;
    if (lastEventId !== undefined && (await this.outsideRetainedLog(lastEventId))) {
      this.sendControl(connection, {
        type: 'ERROR',
        code: 'REPLAY_GAP',
        message:
          `Events after ${lastEventId} are no longer retained; ` +
          'refetch state, the stream continues live',
      });
      connection.lastSentId = head;
    } else if (lastEventId !== undefined) {
      await this.replayFromLog(connection);
    }
    this.goLive(connection);
  }

  private async outsideRetainedLog(lastEventId: number): Promise<boolean> {
    const [pruned, latest] = await Promise.all([
      this.log.prunedThroughId(this.db),
      this.log.latestId(this.db),
    ]);
    return lastEventId < pruned || lastEventId > latest;
  }

  /**
   * Reads the log a page at a time and sends each event only while the socket holds fewer than
   * {@link REPLAY_LOW_WATER_BYTES} unsent: a client that does not read costs one page of the
   * log and that many bytes, not the log.
   */
  private async replayFromLog(connection: Connection): Promise<void> {
    for (;;) {
      if (connection.phase.name === 'closed') return;
      const events = await this.log.readAfter(
        this.db,
        connection.lastSentId,
        [...connection.topics],
        this.replayBatchSize,
      );
      for (const event of events) {
        await this.drained(connection);
        this.sendEvent(connection, event, JSON.stringify(toEnvelope(event)));
      }
      if (events.length < this.replayBatchSize) return;
    }
  }

  /**
   * Resolves once the socket's unsent bytes are at most the low-water mark, or it closed. `ws`
   * has no drain event of its own, so this looks again every {@link DRAIN_POLL_MS}; a client
   * that never reads is dropped by the heartbeat.
   */
  private async drained(connection: Connection): Promise<void> {
    const open = () =>
      connection.phase.name !== 'closed' &&
      // Stryker disable next-line ConditionalExpression: send() skips it, its close ends the wait
      connection.socket.readyState === OPEN;
    // Stryker disable next-line EqualityOperator: no test can land a buffer on the exact byte
    while (open() && connection.socket.bufferedAmount > REPLAY_LOW_WATER_BYTES) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private goLive(connection: Connection): void {
    if (connection.phase.name !== 'replaying') return;
    const { buffered } = connection.phase;
    connection.phase = { name: 'live' };
    buffered.forEach((event) =>
      this.sendEvent(connection, event, JSON.stringify(toEnvelope(event))),
    );
  }

  private broadcast(event: LoggedEvent): void {
    let frame: string | undefined;
    for (const connection of this.connections.values()) {
      if (connection.phase.name === 'replaying')
        this.hold(connection, connection.phase.buffered, event);
      else if (
        // Stryker disable next-line ConditionalExpression: forget() takes closed ones off the map
        connection.phase.name === 'live'
      )
        this.sendEvent(connection, event, (frame ??= JSON.stringify(toEnvelope(event))));
    }
  }

  /** Keeps a live event for a connection still replaying, up to a bound. */
  private hold(connection: Connection, held: LoggedEvent[], event: LoggedEvent): void {
    if (held.length < MAX_EVENTS_HELD_DURING_REPLAY) held.push(event);
    else this.closeSlowConsumer(connection);
  }

  /**
   * Closes with 1013; a peer that does not read would hold its unsent bytes until `ws` gives up
   * on the closing handshake, so it is cut off after {@link SLOW_CONSUMER_CLOSE_GRACE_MS}.
   */
  private closeSlowConsumer(connection: Connection): void {
    this.logger.warn(
      // Stryker disable next-line ObjectLiteral: log context, no contract (docs/events.md)
      { connection: connection.id, buffered: connection.socket.bufferedAmount },
      // Stryker disable next-line StringLiteral: log wording, no contract (docs/events.md)
      'closing a slow consumer',
    );
    this.close(connection, CloseCode.tryAgainLater, 'slow consumer');
    setTimeout(() => connection.socket.terminate(), SLOW_CONSUMER_CLOSE_GRACE_MS).unref();
  }

  private sendEvent(connection: Connection, event: LoggedEvent, frame: string): void {
    if (
      event.id <= connection.lastSentId ||
      !event.topics.some((topic) => connection.topics.has(topic))
    )
      return;
    connection.lastSentId = event.id;
    this.send(connection, frame);
  }

  private sendControl(connection: Connection, message: ServerMessage): void {
    this.send(connection, JSON.stringify(message));
  }

  private send(connection: Connection, frame: string): void {
    if (connection.socket.readyState !== OPEN) return;
    // Stryker disable next-line ConditionalExpression,StringLiteral: a closed ws is never OPEN
    if (connection.phase.name === 'closed') return;
    if (connection.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.closeSlowConsumer(connection);
      return;
    }
    connection.socket.send(frame);
    this.traffic.sent += 1;
  }

  private onMessage(
    connection: Connection,
    data: Buffer | ArrayBuffer | Buffer[],
    isBinary: boolean,
  ): void {
    this.traffic.received += 1;
    if (!connection.budget.take()) {
      this.close(connection, CloseCode.policyViolation, 'too many messages');
      return;
    }
    const text = isBinary
      ? // Stryker disable next-line StringLiteral: any text that is not JSON gets INVALID_JSON
        ''
      : Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Buffer.concat(data as Buffer[]).toString('utf8');
    const parsed = parseClientMessage(text);
    if ('error' in parsed) {
      this.sendControl(connection, { type: 'ERROR', code: parsed.error, message: parsed.detail });
      return;
    }
    const { message } = parsed;
    if (message.type === 'PING')
      this.sendControl(connection, { type: 'PONG', timestamp: new Date().toISOString() });
    else if (message.type === 'PONG') connection.alive = true;
    else this.changeTopics(connection, message.type, message.topics);
  }

  private changeTopics(
    connection: Connection,
    action: 'SUBSCRIBE' | 'UNSUBSCRIBE',
    topics: string[],
  ): void {
    const forbidden =
      action === 'SUBSCRIBE'
        ? topics.filter((topic) => connection.allowedTopics?.has(topic) === false)
        : [];
    if (forbidden.length > 0) {
      this.sendControl(connection, {
        type: 'ERROR',
        code: 'FORBIDDEN_TOPIC',
        message: `This key may not read ${forbidden.join(', ')}`,
      });
      return;
    }
    const subscribing = action === 'SUBSCRIBE';
    const changed = [...new Set(topics)].filter(
      (topic) => connection.topics.has(topic) !== subscribing,
    );
    if (subscribing && connection.topics.size + changed.length > this.maxTopics) {
      const held = connection.topics.size;
      const message = `A connection may hold at most ${this.maxTopics} topics; it holds ${held}`;
      this.sendControl(connection, { type: 'ERROR', code: 'TOO_MANY_TOPICS', message });
      return;
    }
    for (const topic of changed) {
      if (subscribing) connection.topics.add(topic);
      else connection.topics.delete(topic);
    }
    this.sendControl(connection, {
      type: 'ACK',
      action,
      topics: changed,
      topic_count: connection.topics.size,
    });
  }

  private beat(): void {
    const timestamp = new Date().toISOString();
    for (const connection of this.connections.values()) {
      if (!connection.alive) {
        this.logger.info(
          // Stryker disable next-line ObjectLiteral: log context, no contract (docs/events.md)
          { connection: connection.id },
          // Stryker disable next-line StringLiteral: log wording, no contract (docs/events.md)
          'terminating a peer that missed a heartbeat',
        );
        connection.socket.terminate();
        this.forget(connection);
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
      this.sendControl(connection, { type: 'PING', timestamp });
    }
  }

  private close(connection: Connection, code: number, reason: string): void {
    connection.socket.close(code, reason);
    this.forget(connection);
  }

  private forget(connection: Connection): void {
    connection.phase = { name: 'closed' };
    this.connections.delete(connection.id);
  }
}
