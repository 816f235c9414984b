import WebSocket from 'ws';

/** A raw WebSocket test client that queues every frame it receives as parsed JSON. */
export interface TestSocket {
  socket: WebSocket;
  messages: Array<Record<string, unknown>>;
  /**
   * Protocol-level pings received since the socket was created (a late `ping` listener can miss the
   * first).
   */
  readonly protocolPings: number;
  /**
   * Resolves with the first queued (or future) message matching `predicate`, removing it from the
   * queue.
   */
  next(
    predicate?: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Waits until `count` events (frames with a numeric id) have arrived and returns them all. */
  events(count: number, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
  send(message: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens a socket and waits for it to open (or rejects with the HTTP status of a refused upgrade).
 */
export async function openSocket(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<TestSocket> {
  const socket = new WebSocket(url, options);
  const messages: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let protocolPings = 0;
  socket.on('ping', () => (protocolPings += 1));
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    waiters.forEach((wake) => wake());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused with ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const found = check();
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for ${what}; have ${JSON.stringify(messages).slice(0, 500)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(attempt);
      };
      waiters.add(attempt);
      attempt();
    });
  return {
    socket,
    messages,
    closed,
    get protocolPings() {
      return protocolPings;
    },
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: (predicate = () => true, timeoutMs = 5_000) =>
      waitFor(
        () => {
          const index = messages.findIndex(predicate);
          return index === -1 ? undefined : messages.splice(index, 1)[0];
        },
        timeoutMs,
        'a matching message',
      ),
    events: (count, timeoutMs = 10_000) =>
      waitFor(
        () => {
          const events = messages.filter((message) => typeof message.id === 'number');
          return events.length >= count ? events : undefined;
        },
        timeoutMs,
        `${count} events`,
      ),
  };
}

/**
 * The status of a WebSocket handshake: 101 when it opened (the socket is closed at once), else
 * the HTTP status of the refusal, or 0 when the connection failed without one.
 */
export function upgradeStatus(url: string, headers?: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => resolve(0));
  });
}
