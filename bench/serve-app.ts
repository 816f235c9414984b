/**
 * The service under test, in its own process: exactly what src/main.ts builds (same config
 * loading, same buildApp), listening on a free loopback port, which it announces with
 * `READY {"port":N}` on stdout (main.ts only logs it at info level). SIGTERM closes it gracefully.
 *
 * Environment: the orchestrator sets DATABASE_URL, LOG_LEVEL=warn, MEMORY_MCP=off, HOST, PORT=0
 * and the WS_* settings of the run. SIGUSR2 runs a full GC when started with --expose-gc (used
 * before reading RSS; it touches nothing else).
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { pinNextTickShape } from '../src/next-tick-shape.js';
import { resolveDatabaseTarget } from '../src/store/database.js';
import { announceReady, gcOnSignal } from './lib/ready.js';

async function serve(): Promise<void> {
  pinNextTickShape();
  const config = loadConfig();
  const target = resolveDatabaseTarget(
    config.DATABASE_URL,
    config.DATA_DIR,
    config.DATABASE_POOL_SIZE,
  );
  const app = await buildApp({ config, database: { target } });
  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop()).on('SIGINT', () => void stop());
  gcOnSignal(); // only acts under --expose-gc (the WebSocket memory figures)
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  announceReady({
    port: typeof address === 'object' && address !== null ? address.port : config.PORT,
    pid: process.pid,
  });
}

serve().catch((error: unknown) => {
  process.stderr.write(`serve-app failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
