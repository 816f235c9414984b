import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { pinNextTickShape } from './next-tick-shape.js';
import { resolveDatabaseTarget } from './store/database.js';

/** Starts the service and stops it gracefully on SIGTERM or SIGINT (a second signal forces the exit). */
async function main(): Promise<void> {
  pinNextTickShape();
  const config = loadConfig();
  const target = resolveDatabaseTarget(config.DATABASE_URL, config.DATA_DIR, config.DATABASE_POOL_SIZE);
  const app = await buildApp({ config, database: { target } });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const deadline = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
    await app.close();
    clearTimeout(deadline);
    app.log.info('stopped');
  };
  process.once('SIGTERM', (signal) => void stop(signal)).on('SIGINT', (signal) => void stop(signal));
  await app.listen({ host: config.HOST, port: config.PORT });
  app.log.info({ engine: target.engine, docs: `http://${config.HOST}:${config.PORT}/docs` }, 'swarm-control ready');
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `Failed to start: ${(error as Error)?.stack ?? String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
