// Mutation testing of the core, part 2 of 2 (issue #20; docs/testing.md, "Mutation testing"):
// the modules whose killing tests run against real servers. vitest.mutation.config.ts is the
// `servers` project alone: its global setup starts PostgreSQL and Redis once, when Stryker's test
// runner starts vitest, not once per mutant. `npm run test:mutation:servers` runs it and the
// per-file check; STRYKER_MUTATE (comma-separated globs) and STRYKER_TEST_FILES narrow a run,
// STRYKER_REPORT names its report folder (reports/mutation/<name>/, default `servers`).
process.env.MUTATION_PART = 'servers';
import { list, sharedOptions } from './stryker.shared.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...sharedOptions('servers'),
  mutate: list(process.env.STRYKER_MUTATE) ?? [
    'src/events/event-bus.ts',
    'src/events/event-log.ts',
    'src/store/versioning.ts',
    'src/store/write-transaction.ts',
    'src/store/write-statement.ts',
    'src/store/batch-statement.ts',
    'src/store/task-statements.ts',
    'src/store/*-repository.ts',
    'src/store/event-append.ts',
    'src/services/*.ts',
    'src/memory/{mcp-client,mcp-write-queue,memory-repository}.ts',
  ],
  // The end-to-end folders (test/mcp registers agents) and the unit tests of the services, the
  // store, the Redis bus and the MCP write queue, which prove their audit records, event topics,
  // race paths and orderings.
  testFiles: list(process.env.STRYKER_TEST_FILES) ?? [
    'test/{api,events,tasks,memory,mcp}/**/*.test.ts',
    'test/unit/{services,store}/**/*.test.ts',
    'test/unit/events/event-bus.test.ts',
    'test/unit/memory/mcp-write-queue.test.ts',
  ],
  // The tests start their own apps and sockets. Bail stays on: a killed mutant stops at its first
  // failing test instead of running minutes of API tests.
  timeoutMS: 15_000,
  dryRunTimeoutMinutes: 20,
  tempDirName: '.stryker-tmp-servers',
};
