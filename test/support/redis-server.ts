/**
 * Disposable redis-server for tests: no persistence, loopback only, free port, temp working dir.
 */
import { connect } from 'node:net';
import {
  findExecutable,
  makeTempDir,
  requireExecutable,
  spawnService,
  startManagedServer,
  type ManagedServer,
} from './process.js';

/** Handle to a running throwaway Redis. Nothing is persisted, so `resume()` comes back empty. */
export interface RedisServer extends ManagedServer {
  /** e.g. `redis://127.0.0.1:6390` */
  readonly url: string;
}

/**
 * Path of redis-server ($REDIS_SERVER_BIN overrides PATH lookup); throws an install hint if
 * missing.
 */
export function redisServerBinary(): string {
  const missing = 'redis-server not found — install it with: apt-get install -y redis-server';
  const path = process.env.REDIS_SERVER_BIN || findExecutable('redis-server');
  if (!path) throw new Error(missing);
  return requireExecutable(path, missing);
}

/** Resolves true if something on 127.0.0.1:`port` answers `PING` with `+PONG`. */
export function redisPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Starts a private redis-server on a free port. Used once per run by the global setup, or by fault
 * tests.
 */
export async function startRedis(options: { readyTimeoutMs?: number } = {}): Promise<RedisServer> {
  const binary = redisServerBinary();
  const dir = makeTempDir('swarm-redis-');
  const args = (port: number) => [
    ...['--port', `${port}`, '--bind', '127.0.0.1', '--protected-mode', 'no', '--daemonize', 'no'],
    ...['--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', ''],
  ];
  const server = await startManagedServer({
    name: 'redis-server',
    dir,
    spawn: (port) => spawnService(binary, args(port), { cwd: dir }),
    isReady: (port) => redisPing(port),
    stopSignals: ['SIGTERM'],
    exitSignal: 'SIGTERM',
    readyTimeoutMs: options.readyTimeoutMs,
  });
  return Object.assign(server, { url: `redis://127.0.0.1:${server.port}` });
}
