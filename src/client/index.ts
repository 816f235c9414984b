/**
 * The client for Node: as the browser entry, but {@link EventStream} opens its sockets with the
 * `ws` package (Node 20 has no WebSocket of its own) and sends the API key as a header.
 */
import WebSocket from 'ws';
import { EventStream as PlatformEventStream, type EventStreamOptions } from './event-stream.js';
import type { SocketFactory } from './stream-socket.js';

export * from './browser.js';

/** Opens sockets with `ws`, authenticated by an `Authorization` header. */
export const nodeSocket: SocketFactory = (url, apiKey) => {
  const headers = apiKey === undefined ? undefined : { authorization: `Bearer ${apiKey}` };
  return new WebSocket(url, { headers });
};

/** {@link PlatformEventStream} with `ws` sockets unless `socketFactory` says otherwise. */
export class EventStream extends PlatformEventStream {
  constructor(options: EventStreamOptions) {
    super({ socketFactory: nodeSocket, ...options });
  }
}
