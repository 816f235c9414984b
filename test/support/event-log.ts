import type { SwarmEvent } from '../../src/domain/event.js';

/** A GET through the app: `app.inject` or a test app's `request`. */
export type Get = (request: {
  url: string;
  headers?: Record<string, string> | undefined;
}) => Promise<{ json(): unknown }>;

interface EventPage {
  items: SwarmEvent[];
  next_after: number;
  has_more: boolean;
}

/**
 * Every event `GET /api/v1/events` gives for `query` (e.g. `topic=projects`), oldest first,
 * read page by page: a page holds at most 1 000 events, and a busy test logs more.
 */
export async function readWholeLog(
  get: Get,
  query = '',
  headers?: Record<string, string>,
): Promise<SwarmEvent[]> {
  const events: SwarmEvent[] = [];
  for (let after = 0, more = true; more;) {
    const url = `/api/v1/events?after=${after}&limit=1000${query === '' ? '' : `&${query}`}`;
    const page = (await (await get({ url, headers })).json()) as EventPage;
    events.push(...page.items);
    [after, more] = [page.next_after, page.has_more];
  }
  return events;
}
