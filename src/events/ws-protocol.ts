import { z } from 'zod';
import { topicSchema } from '../domain/event.js';

/** Most topics one SUBSCRIBE or UNSUBSCRIBE may name. */
export const MAX_TOPICS_PER_MESSAGE = 100;

const topicsField = z.array(topicSchema).min(1).max(MAX_TOPICS_PER_MESSAGE);

/** Messages a client may send on the WebSocket. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('SUBSCRIBE'), topics: topicsField }),
  z.object({ type: z.literal('UNSUBSCRIBE'), topics: topicsField }),
  z.object({ type: z.literal('PING') }),
  z.object({ type: z.literal('PONG') }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Error codes the server sends in `ERROR` messages. */
export type GatewayErrorCode =
  | 'INVALID_JSON'
  | 'UNKNOWN_TYPE'
  | 'INVALID_MESSAGE'
  | 'REPLAY_GAP'
  | 'FORBIDDEN_TOPIC'
  | 'TOO_MANY_TOPICS';

/** Control messages the server sends; events travel as their own envelope (see `SwarmEvent`). */
export type ServerMessage =
  | {
      type: 'WELCOME';
      connection_id: string;
      last_event_id: number;
      heartbeat_ms: number;
      topics: string[];
    }
  | { type: 'ACK'; action: 'SUBSCRIBE' | 'UNSUBSCRIBE'; topics: string[]; topic_count: number }
  | { type: 'PING'; timestamp: string }
  | { type: 'PONG'; timestamp: string }
  | { type: 'ERROR'; code: GatewayErrorCode; message: string };

/** Parses one client frame, or says which error code to answer with. */
export function parseClientMessage(
  text: string,
): { message: ClientMessage } | { error: GatewayErrorCode; detail: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'INVALID_JSON', detail: 'The message is not valid JSON' };
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (!['SUBSCRIBE', 'UNSUBSCRIBE', 'PING', 'PONG'].includes(type as string)) {
    return {
      error: 'UNKNOWN_TYPE',
      detail:
        `Unknown message type ${JSON.stringify(type ?? null)}; ` +
        'expected SUBSCRIBE, UNSUBSCRIBE, PING or PONG',
    };
  }
  const parsed = clientMessageSchema.safeParse(value);
  if (parsed.success) return { message: parsed.data };
  const issues = parsed.error.issues.map((issue) => `/${issue.path.join('/')}: ${issue.message}`);
  return { error: 'INVALID_MESSAGE', detail: issues.join('; ') };
}
