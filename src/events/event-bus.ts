import type { Logger } from '../domain/logger.js';
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { LoggedEvent } from '../domain/event.js';

/** Receives batches of committed events, in the order their instance published them. */
export type BusListener = (events: LoggedEvent[]) => void;

/**
 * Hands committed events to every instance's dispatcher: in process, or through Redis across
 * instances.
 */
export interface EventBus {
  publish(events: LoggedEvent[]): void;
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}

/** Something the bus can report trouble to without failing the write that published. */
export type BusLogger = Pick<Logger, 'info' | 'warn'>;

/** Delivers events to listeners in this process only (no `REDIS_URL`). */
export class InProcessEventBus implements EventBus {
  private readonly listeners = new Set<BusListener>();

  publish(events: LoggedEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.listeners) listener(events);
  }

  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

const CHANNEL = 'swarm-control:events';

/** Opens a Redis connection; replaceable so unit tests can hand the bus a fake client. */
export type RedisConnector = (url: string, options: RedisOptions) => Redis;

const connectRedis: RedisConnector = (url, options) => new Redis(url, options);

function redisClient(connect: RedisConnector, url: string, logger: BusLogger, role: string): Redis {
  const client = connect(url, {
    // Nothing waits for Redis: a publish while it is down fails at once (the log poll catches
    // the other instances up), and the subscriber subscribes on `ready`, when it is connected.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
  });
  client.on('error', (error: Error) => logger.warn({ err: error, role }, 'redis connection error'));
  return client;
}

/**
 * Publishes through Redis pub/sub so every instance sees every committed event. Local listeners
 * get this instance's events directly, so delivery here never waits for Redis, and a Redis
 * outage only delays other instances (their dispatchers also poll the log, so nothing is lost).
 */
export class RedisEventBus implements EventBus {
  private readonly local = new InProcessEventBus();
  private readonly instanceId = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  constructor(
    url: string,
    private readonly logger: BusLogger,
    connect: RedisConnector = connectRedis,
  ) {
    this.publisher = redisClient(connect, url, logger, 'publisher');
    this.subscriber = redisClient(connect, url, logger, 'subscriber');
    this.subscriber.on('message', (_channel: string, message: string) => this.receive(message));
    this.subscriber.on('ready', () => this.listen());
  }

  publish(events: LoggedEvent[]): void {
    if (events.length === 0) return;
    this.local.publish(events);
    const message = JSON.stringify({ from: this.instanceId, events });
    this.publisher
      .publish(CHANNEL, message)
      .catch((error: unknown) =>
        this.logger.warn(
          { err: error },
          'redis publish failed; other instances will catch up from the log',
        ),
      );
  }

  subscribe(listener: BusListener): () => void {
    return this.local.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.local.close();
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }

  /**
   * Subscribes on every connect, not once at construction: ioredis re-subscribes after a
   * reconnect only the channels whose subscription once succeeded, so a subscription that failed
   * while Redis was down at start would otherwise never be made, and this instance would hear of
   * other instances' events only from its log poll. Subscribing twice to a channel is harmless.
   */
  private listen(): void {
    this.logger.info({}, 'redis event bus connected');
    this.subscriber
      .subscribe(CHANNEL)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'redis subscribe failed'));
  }

  /**
   * Events from other instances are only hints: the dispatcher re-reads the log on any gap, so a
   * garbled message loses nothing.
   */
  private receive(message: string): void {
    try {
      const parsed = JSON.parse(message) as { from: string; events: LoggedEvent[] };
      if (parsed.from !== this.instanceId && Array.isArray(parsed.events))
        this.local.publish(parsed.events);
    } catch (error) {
      this.logger.warn({ err: error }, 'ignored an unreadable event bus message');
    }
  }
}
