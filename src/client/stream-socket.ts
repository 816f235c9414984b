/**
 * The part of the standard WebSocket API that {@link EventStream} uses: browsers' WebSocket and
 * the `ws` package's both have it, so the stream runs unchanged in either.
 */
export interface StreamSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code: number; reason: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: () => void): void;
}

/** Opens a socket to `url`, authenticated with `apiKey` when there is one. */
export type SocketFactory = (url: URL, apiKey: string | undefined) => StreamSocket;

/**
 * The platform's WebSocket (browsers, Node 22). It cannot send headers, so the key travels as
 * the `token` query parameter, which the service accepts on `/ws` and never logs.
 */
export const platformSocket: SocketFactory = (url, apiKey) => {
  const Platform = (globalThis as { WebSocket?: new (url: string) => StreamSocket }).WebSocket;
  if (Platform === undefined) {
    throw new Error(
      'No WebSocket in this runtime: use the Node entry of the client, or pass socketFactory',
    );
  }
  const target = new URL(url);
  if (apiKey !== undefined) target.searchParams.set('token', apiKey);
  return new Platform(target.toString());
};
