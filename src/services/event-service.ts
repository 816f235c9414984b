import type { SwarmEvent } from '../domain/event.js';
import { toEnvelope } from '../domain/event.js';
import type { EventLog } from '../events/event-log.js';
import type { ConnectRequest, GatewaySocket, WebSocketGateway } from '../events/ws-gateway.js';
import type { Database } from '../store/database.js';

/** A page of the event log, oldest first (`GET /api/v1/events`). */
export interface EventPage {
  items: SwarmEvent[];
  /** Pass as `after` to read the next page. */
  next_after: number;
  has_more: boolean;
  /** Events up to this id were removed by retention; an `after` below it has missed some. */
  pruned_through_id: number;
}

/** The event log for clients: pages of it, or a live stream over a WebSocket. */
export class EventService {
  constructor(
    private readonly db: Database,
    private readonly log: EventLog,
    private readonly gateway: Pick<WebSocketGateway, 'accept'>,
  ) {}

  /** Hands a freshly upgraded socket to the gateway: a WELCOME, the replay, then live events. */
  stream(socket: GatewaySocket, request: ConnectRequest): Promise<void> {
    return this.gateway.accept(socket, request);
  }

  /**
   * Events after `after` on `topics` (null: all), one row more read to know whether more follow.
   */
  async page(after: number, topics: readonly string[] | null, limit: number): Promise<EventPage> {
    const [events, prunedThroughId] = await Promise.all([
      this.log.readAfter(this.db, after, topics, limit + 1),
      this.log.prunedThroughId(this.db),
    ]);
    const items = events.slice(0, limit).map(toEnvelope);
    return {
      items,
      next_after: items.at(-1)?.id ?? after,
      has_more: events.length > limit,
      pruned_through_id: prunedThroughId,
    };
  }
}
