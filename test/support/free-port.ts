import { createServer } from 'node:net';

/**
 * Ask the kernel for a currently unused TCP port on 127.0.0.1.
 *
 * Used to give each throwaway Postgres/Redis server its own port so parallel
 * runs (and a developer's local services) never collide. The port is released
 * before returning, so a tiny race window exists; callers that spawn servers
 * should retry on "address already in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((err) =>
        err || port === 0 ? reject(err ?? new Error('no port assigned')) : resolve(port),
      );
    });
  });
}
