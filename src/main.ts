import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { pinNextTickShape } from './next-tick-shape.js';
import { DataDirectoryLockedError } from './store/data-directory-lock.js';
import { resolveDatabaseTarget } from './store/database.js';
import { exitStopped, onStopSignals } from './stop-signals.js';

/**
 * Stops gracefully: no new connections, in-flight requests finish within SHUTDOWN_TIMEOUT_MS; then
 * the process ends at once (exitStopped says why).
 */
async function stopGracefully(app: FastifyInstance, config: Config, signal: NodeJS.Signals) {
  app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
  const deadline = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
  await app.close();
  clearTimeout(deadline);
  app.log.info('stopped');
  exitStopped(0);
}

/**
 * Starts the service and stops it gracefully on SIGTERM or SIGINT; a second signal a second or
 * more later forces the exit (src/stop-signals.ts).
 */
async function main(): Promise<void> {
  pinNextTickShape();
  const config = loadConfig();
  const { DATABASE_URL: url, DATA_DIR: dataDir, DATABASE_POOL_SIZE: poolSize } = config;
  const target = resolveDatabaseTarget(url, dataDir, poolSize);
  const app = await buildApp({ config, database: { target } });
  onStopSignals({
    first: (signal) => void stopGracefully(app, config, signal),
    insist: () => process.exit(1),
  });
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
