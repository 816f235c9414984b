import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The vitest side of the mutation runs (docs/testing.md, "Mutation testing"); Stryker's vitest
 * runner starts it once per test runner process, so the global setup (PostgreSQL and Redis for
 * the server-backed part) runs once for a Stryker run, not once per mutant.
 *
 * - `MUTATION_PART=unit` (stryker.config.mjs): project `unit` alone, no servers.
 * - `MUTATION_PART=servers` (stryker.servers.config.mjs): the `servers` project's folders on
 *   PostgreSQL, without `pglite`, and the unit tests of the modules that part mutates
 *   (`servicesUnitFiles`): a service's audit records, event topics and race paths are proven
 *   there, with fakes, so its score counts them too.
 *
 * A mutant that makes a test wait forever (a promise that never settles) should fail that test
 * soon rather than run into Stryker's own timeout, which restarts the worker (seconds each): so
 * the test timeout is shorter than `npm test`'s. The slowest test of either part takes a fraction
 * of it.
 */
const servers = process.env.MUTATION_PART === 'servers';
/**
 * The unit tests of src/services/, src/store/, the Redis event bus and the MCP write queue (the
 * servers part's).
 */
const servicesUnitFiles = [
  'test/unit/{services,store}/**/*.test.ts',
  'test/unit/events/event-bus.test.ts',
  'test/unit/memory/mcp-write-queue.test.ts',
];
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: servers
      ? ['test/{api,events,memory,tasks,mcp}/**/*.test.ts', ...servicesUnitFiles]
      : ['test/unit/**/*.test.ts'],
    // Lock contenders in child processes, seconds per test; src/store/ is the servers part's.
    exclude: [...configDefaults.exclude, 'test/unit/store/data-directory-lock.test.ts'],
    testTimeout: servers ? 15_000 : 3_000,
    hookTimeout: servers ? 60_000 : 3_000,
    projects: undefined,
  },
});
