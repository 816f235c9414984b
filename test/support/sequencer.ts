import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that run longest, longest first (≈ 20 s down to ≈ 3 s each on the 2-core machine).
 * Vitest orders by the durations it cached on earlier runs; a fresh clone has none, and then
 * vitest puts the largest files first, which ran some of these small, long files last: one worker
 * finished them alone while the other sat idle.
 */
export const LONGEST_FIRST = [
  'test/integration/on-pglite.test.ts',
  'test/websocket/resume.test.ts',
  'test/faults/postgres-outage.test.ts',
  'test/faults/memory-under-load.test.ts',
  'test/websocket/gateway.test.ts',
  'test/faults/sigkill-restart.test.ts',
  'test/faults/embedded-database.test.ts',
  'test/faults/npm-start-signals.test.ts',
  'test/integration/fuzz-agents.test.ts',
  'test/integration/auth.postgres-only.test.ts',
  'test/integration/fuzz-projects.test.ts',
  'test/integration/operations.postgres-only.test.ts',
];

/** Vitest's order when it knows every file's duration; otherwise {@link LONGEST_FIRST}, then vitest's order. */
export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    if (sorted.every((file) => this.cachedDuration(file) !== undefined)) return sorted;
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.indexOf(this.pathOf(file));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    return sorted.sort((a, b) => rank(a) - rank(b));
  }

  private cachedDuration(file: TestSpecification): number | undefined {
    return this.ctx.cache.getFileTestResults(`${file.project.name}:${this.pathOf(file)}`)?.duration;
  }

  /** The file's path from the project root, as LONGEST_FIRST and vitest's cache name it. */
  private pathOf(file: TestSpecification): string {
    return relative(this.ctx.config.root, file.moduleId);
  }
}
