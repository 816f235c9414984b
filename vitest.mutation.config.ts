import { configDefaults, defineConfig } from 'vitest/config';
import { allTests } from './stryker.servers.groups.mjs';
import base, { serverPolls } from './vitest.config.js';

/**
 * The vitest side of the mutation runs (docs/testing.md, "Mutation testing"); Stryker's vitest
 * runner starts it once per test runner process, so the global setup (PostgreSQL and Redis for
 * the server-backed part) runs once for a Stryker run, not once per mutant.
 *
 * - `MUTATION_PART=unit` (stryker.config.mjs): project `unit` alone, no servers.
 * - `MUTATION_PART=servers` (stryker.servers.config.mjs): the `servers` project's folders on
 *   PostgreSQL, without `pglite`, and every test file a group names (`allTests`), the unit tests
 *   among them: a service's audit records, event topics and race paths are proven there, with
 *   fakes, so its score counts them too.
 *
 * A mutant that makes a test wait forever (a promise that never settles) should fail that test
 * soon rather than run into Stryker's own timeout, which restarts the worker (seconds each): so
 * the test timeout is shorter than `npm test`'s. The slowest test of either part takes a fraction
 * of it.
 */
const servers = process.env.MUTATION_PART === 'servers';
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: servers
      ? ['test/{api,events,memory,tasks,mcp}/**/*.test.ts', ...allTests]
      : ['test/unit/**/*.test.ts'],
    // Lock contenders in child processes, seconds per test; src/store/ is the servers part's.
    exclude: [...configDefaults.exclude, 'test/unit/store/data-directory-lock.test.ts'],
    testTimeout: servers ? 15_000 : 3_000,
    hookTimeout: servers ? 60_000 : 3_000,
    ...(servers && { expect: serverPolls }),
    projects: undefined,
  },
});
