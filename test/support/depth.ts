/**
 * How hard the randomized and stress tests push. `npm test` runs them at the standard depth, sized
 * for routine runs (docs/testing.md gives the counts and the times); `TEST_DEPTH=deep` (`npm run
 * test:deep`) runs the same tests with the large counts (more fuzz runs, more writes and
 * disconnects), for a change to the write path, the event log or validation, and before a release.
 */
export type TestDepth = 'standard' | 'deep';

/** The depth chosen by `TEST_DEPTH`; anything but `deep` (or unset) is standard. */
export function testDepth(): TestDepth {
  return process.env.TEST_DEPTH === 'deep' ? 'deep' : 'standard';
}

/** `standard` at the standard depth, `deep` at the deep one. */
export function byDepth<T>(standard: T, deep: T): T {
  return testDepth() === 'deep' ? deep : standard;
}
