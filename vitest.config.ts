import { defineConfig } from 'vitest/config';

/** Run through scripts/run-tests.sh; it picks projects and turns coverage on for `all`/`coverage`. */
const integrationFiles = ['test/integration/**/*.test.ts'];
/** Everything that talks to the shared servers: integration, WebSocket, circuit breaker, faults, browser. */
const serverFiles = [
  ...integrationFiles, 'test/websocket/**/*.test.ts', 'test/circuit-breaker/**/*.test.ts', 'test/faults/**/*.test.ts',
  'test/browser/**/*.test.ts',
];
const unitFiles = ['test/unit/**/*.test.ts'];
/** A unit run (scripts/run-tests.sh unit) starts no servers, and then the unit files are a project of their own. */
const unitRun = process.env.TEST_SERVERS === 'off';
const coverageReporters = process.env.COVERAGE_HTML === '1' ? ['html', 'lcov'] : [];

export default defineConfig({
  test: {
    // Root-level on purpose: only the root project starts servers (see global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    passWithNoTests: true,
    reporters: ['default', './test/support/summary-reporter.ts'],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/main.ts', 'src/**/*.d.ts'],
      thresholds: { lines: 90, statements: 90, functions: 90, branches: 90 },
      reporter: ['text-summary', 'json-summary', ...coverageReporters],
      reportsDirectory: 'coverage',
      // Always report (and check thresholds) so the summary reporter's line stays last.
      reportOnFailure: true,
    },
    // Files share one module graph per worker (`isolate: false`): loading the whole app costs
    // seconds of CPU per worker, and a worker is reused only by files of its own project, so every
    // test that needs the servers is in one project (`servers`) and its workers run them all, the
    // unit files included, in workers already warm. No file replaces a module (`vi.mock`) or spies
    // on shared objects, files restore real timers after each test, and every file opens its own
    // database and app. The PGlite pass is a file of that project too (on-pglite.test.ts).
    projects: unitRun ? [{ extends: true, test: { name: 'unit', include: unitFiles, isolate: false } }] : [
      {
        extends: true,
        test: {
          name: 'servers',
          include: [...serverFiles, ...unitFiles],
          isolate: false,
        },
      },
    ],
  },
});
