// Mutation testing of the core, part 2 of 2 (issue #20; docs/testing.md, "Mutation testing"):
// the modules whose killing tests run against real servers, in the groups of
// stryker.servers.groups.mjs. vitest.mutation.config.ts is the `servers` project alone: its global
// setup starts PostgreSQL and Redis once, when Stryker's test runner starts vitest, not once per
// mutant. `npm run test:mutation:servers` runs every group (scripts/run-mutation.sh sets
// STRYKER_GROUP and STRYKER_REPORT=servers/<group> for each) and then the per-file check.
// STRYKER_MUTATE (comma-separated globs) and STRYKER_TEST_FILES narrow a run by hand instead.
process.env.MUTATION_PART = 'servers';
import { list, sharedOptions } from './stryker.shared.mjs';
import { allMutated, allTests, groups } from './stryker.servers.groups.mjs';

const groupName = process.env.STRYKER_GROUP || undefined;
const group = groupName === undefined ? undefined : groups[groupName];
if (groupName !== undefined && group === undefined)
  throw new Error(`STRYKER_GROUP: no group ${groupName} (${Object.keys(groups).join(', ')})`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...sharedOptions('servers'),
  mutate: list(process.env.STRYKER_MUTATE) ?? group?.mutate ?? allMutated,
  testFiles: list(process.env.STRYKER_TEST_FILES) ?? group?.tests ?? allTests,
  // The tests start their own apps and sockets. Bail stays on: a killed mutant stops at its first
  // failing test instead of running minutes of API tests.
  timeoutMS: 15_000,
  dryRunTimeoutMinutes: 20,
  tempDirName: '.stryker-tmp-servers',
};
