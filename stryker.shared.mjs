// What both parts of the mutation run share (stryker.config.mjs, stryker.servers.config.mjs).

/** A comma-separated environment list (STRYKER_MUTATE, STRYKER_TEST_FILES), or undefined. */
export const list = (value) => value?.split(',').filter(Boolean);

/**
 * The options of both parts, writing to reports/mutation/<STRYKER_REPORT or `part`>/ so that a
 * narrowed run keeps its own incremental file.
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function sharedOptions(part) {
  const report = `reports/mutation/${process.env.STRYKER_REPORT ?? part}`;
  return {
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutation.config.ts', related: true },
    plugins: ['@stryker-mutator/vitest-runner'],
    coverageAnalysis: 'perTest',
    ignoreStatic: true,
    // The machine has 2 cores and is shared.
    concurrency: 1,
    incremental: true,
    incrementalFile: `${report}/stryker-incremental.json`,
    reporters: ['clear-text', 'html', 'json', 'progress'],
    htmlReporter: { fileName: `${report}/mutation.html` },
    jsonReporter: { fileName: `${report}/mutation.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    thresholds: { high: 90, low: 85, break: 85 },
    cleanTempDir: 'always',
    // Either part's sandbox and the reports stay out of the other's sandbox, so both parts (or
    // two servers groups) can run at once in one checkout.
    ignorePatterns: ['/.stryker-tmp', '/.stryker-tmp-servers', '/reports'],
  };
}
