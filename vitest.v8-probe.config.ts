import { defineConfig } from 'vitest/config';

/**
 * The opt-in V8 check of src/next-tick-shape.ts (`npm run test:v8-probe`, test/v8-probe/): it reads
 * V8's own description of process.nextTick, which depends on the Node version, so `npm test` (see
 * vitest.config.ts) leaves it out. No servers, no coverage.
 */
export default defineConfig({
  test: {
    include: ['test/v8-probe/**/*.test.ts'],
    testTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
