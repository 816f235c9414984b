import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { pinNextTickShape } from './next-tick-shape.js';
import { DataDirectoryLockedError } from './store/data-directory-lock.js';
import { resolveDatabaseTarget } from './store/database.js';

/**
 * A repeat of a stop signal within this time is the same request, not a demand to force the exit:
 * under `npm start` a Ctrl-C reaches the service twice, from the terminal and forwarded by npm, and
 * so does a SIGTERM sent to the whole process group (as systemd and `kill -- -<pgid>` do).
 */
const REPEAT_WINDOW_MS = 1_000;

/**
 * Stops gracefully on the first SIGTERM or SIGINT: no new connections, in-flight requests finish
 * within SHUTDOWN_TIMEOUT_MS. A second signal a second or more later forces the exit.
 */
function stopOnSignals(app: FastifyInstance, config: Config): void {
  let firstSignalAt: number | null = null;
  const stop = async (signal: NodeJS.Signals) => {
    if (firstSignalAt !== null) {
      if (Date.now() - firstSignalAt >= REPEAT_WINDOW_MS) process.exit(1);
      return;
    }
    firstSignalAt = Date.now();
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const deadline = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
    await app.close();
    clearTimeout(deadline);
    app.log.info('stopped');
  };
  process.on('SIGTERM', (signal) => void stop(signal)).on('SIGINT', (signal) => void stop(signal));
}

/** Starts the service and stops it gracefully on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  pinNextTickShape();
  const config = loadConfig();
  const { DATABASE_URL: url, DATA_DIR: dataDir, DATABASE_POOL_SIZE: poolSize } = config;
  const target = resolveDatabaseTarget(url, dataDir, poolSize);
  const app = await buildApp({ config, database: { target } });
  stopOnSignals(app, config);
  const address = await app.listen({ host: config.HOST, port: config.PORT });
  const ready = { engine: target.engine, url: address, docs: `${address}/docs` };
  app.log.info(ready, 'swarm-control ready');
}

/** Errors an operator fixes from the message alone: no stack trace. */
function isOperatorError(error: unknown): error is Error {
  return error instanceof ConfigError || error instanceof DataDirectoryLockedError;
}

main().catch((error: unknown) => {
  const stack = (error as Error)?.stack ?? String(error);
  const message = isOperatorError(error) ? error.message : `Failed to start: ${stack}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
