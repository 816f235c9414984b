import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The file that runs the integration suite once more on PGlite, the longest of all. */
const PGLITE_PASS = 'test/integration/on-pglite.test.ts';

/**
 * Vitest's order (failed first, then longest first by the durations it cached), except that the
 * PGlite pass always starts first. Without cached durations, as in a fresh clone, vitest puts the
 * largest files first, and that small file, which runs for ≈ 15 s, came last: one worker finished
 * it alone while the other sat idle.
 */
export default class PglitePassFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isPglitePass = (file: TestSpecification) => file.moduleId.endsWith(PGLITE_PASS);
    return [...sorted.filter(isPglitePass), ...sorted.filter((file) => !isPglitePass(file))];
  }
}
