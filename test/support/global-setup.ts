/**
 * Vitest global setup: one Postgres 15 and one Redis for the whole test run, shared by every
 * project through `inject('postgresAdminUrl')` / `inject('redisUrl')`.
 *
 * Vitest 4 runs a root-level `globalSetup` once for the root project AND once more for every
 * project declared with `extends: true` (verified experimentally), so only the root project
 * starts servers; the other projects inherit the root's provided context.
 *
 * Interrupted runs (SIGINT/SIGTERM) are covered by the synchronous emergency hooks in
 * ./process.ts, because vitest calls process.exit() on those signals without running teardowns.
 *
 * Set TEST_SERVERS=off (scripts/run-tests.sh does this for `unit`) to skip starting servers; the
 * config then has only the `unit` project.
 */
import type { TestProject } from 'vitest/node';

/** Starts the shared servers (root project only) and returns the teardown that stops them. */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (!project.isRootProject() || process.env.TEST_SERVERS === 'off') return undefined;
  // Loaded only here: a unit run needs none of the server tooling (drizzle, PGlite, esbuild).
  const { startTestServers } = await import('./test-servers.js');
  return startTestServers(project);
}
