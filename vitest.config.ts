import { type TestProjectInlineConfiguration, configDefaults, defineConfig } from 'vitest/config';

/**
 * Three projects; scripts/run-tests.sh picks among them and turns coverage on for `coverage`
 * (docs/testing.md has the layout).
 *
 * - `unit`: test/unit (mirrors src/), no servers: collaborators handed in, fake clocks.
 * - `servers`: the folders by subject, against real servers (PostgreSQL, Redis, MCP servers,
 *   Chromium) and real processes.
 * - `pglite`: the files that must behave the same on both engines, once more on the embedded
 *   PGlite (`TEST_DB=pglite`, read by testEngine() in test/support/app.ts); files named
 *   `*.postgres-only.test.ts` are left out.
 *
 * With TEST_SERVERS=off (scripts/run-tests.sh unit) the global setup starts no servers and only the
 * `unit` project exists.
 */
const unitFiles = ['test/unit/**/*.test.ts'];
const serverFiles = [
  'api',
  'events',
  'memory',
  'tasks',
  'mcp',
  'agent',
  'faults',
  'browser',
  'harness',
].map((folder) => `test/${folder}/**/*.test.ts`);
/** The REST API, the event log, the memory API: what the service stores, through the engine. */
const bothEngineFiles = [
  'test/api/**/*.test.ts',
  'test/events/event-log.test.ts',
  'test/memory/memory-api.test.ts',
  'test/tasks/tasks-api.test.ts',
  'test/harness/test-engine.test.ts',
];
const withServers = process.env.TEST_SERVERS !== 'off';
/**
 * How long the server-backed files wait. What they wait for (an event reaching a browser, a
 * process being reaped, a service starting in a child process) takes several times longer on a
 * loaded machine. A poll passes as soon as its condition holds and a test ends when it is done,
 * so these bounds cost time only when a test fails: 5 s for a poll (vitest's default is 1 s) and
 * 60 s for a test. A test that needs longer says so.
 */
export const serverPolls = { poll: { timeout: 5_000 } };
const serverWaits = { expect: serverPolls, testTimeout: 60_000 };
const unit: TestProjectInlineConfiguration = {
  extends: true,
  test: { name: 'unit', include: unitFiles, sequence: { groupOrder: 2 } },
};
/**
 * The `servers` files wait on child processes, servers and timers much of the time, so their
 * project runs more workers than cores (`SERVERS_MAX_WORKERS`, set by scripts/run-tests.sh); a
 * maxWorkers of its own needs a group of its own, run after `pglite` and before `unit`.
 */
const serversMaxWorkers = Number(process.env.SERVERS_MAX_WORKERS) || undefined;
const servers: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'servers',
    include: serverFiles,
    ...serverWaits,
    ...(serversMaxWorkers && { maxWorkers: serversMaxWorkers, sequence: { groupOrder: 1 } }),
  },
};
const pglite: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'pglite',
    include: bothEngineFiles,
    ...serverWaits,
    exclude: [...configDefaults.exclude, '**/*.postgres-only.test.ts'],
    env: { TEST_DB: 'pglite' },
  },
};
const coverageReporters = process.env.COVERAGE_HTML === '1' ? ['html', 'lcov'] : [];

export default defineConfig({
  test: {
    // Root-level on purpose: it runs once, for the root project, and starts the servers
    // (global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The files of a project share a worker's modules (the app is loaded once per worker, not once
    // per file). Every file opens its own database and app, no file replaces a module (`vi.mock`),
    // and files restore real timers after each test.
    isolate: false,
    passWithNoTests: true,
    reporters: ['default', './test/support/summary-reporter.ts'],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // Entry points: their behaviour is tested in child processes, whose coverage is not measured.
      exclude: ['src/main.ts', 'src/agent/main.ts', 'src/**/*.d.ts'],
      thresholds: { lines: 90, statements: 90, functions: 90, branches: 90 },
      reporter: ['text-summary', 'json-summary', ...coverageReporters],
      reportsDirectory: 'coverage',
      // Always report (and check thresholds) so the summary reporter's line stays last.
      reportOnFailure: true,
    },
    projects: withServers ? [unit, servers, pglite] : [unit],
  },
});
