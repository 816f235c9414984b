/**
 * Vitest reporter that prints one machine-readable line at the very end of a run
 * (`42 passed, 0 failed` or `42 passed, 0 failed, 1 skipped`) and writes the same counts to
 * `.test-results/summary.json`, which `.ci/run` reads for its final line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, SerializedError, TestModule, TestSpecification, Vitest } from 'vitest/node';

/** Test-case counts across all projects of a run. */
export interface TestSummary {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts test cases by outcome. A module that failed without any failing test case (collection
 * error, failing beforeAll/afterAll) counts as one failure, as does every unhandled error.
 */
export function summarize(
  modules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<unknown>,
): TestSummary {
  const summary: TestSummary = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
  for (const module of modules) {
    let moduleFailures = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') summary.passed++;
      else if (state === 'failed') moduleFailures++;
      else summary.skipped++; // skipped, todo, or pending in an interrupted run
    }
    const moduleBroken = module.state() === 'failed' || module.errors().length > 0;
    summary.failed += moduleFailures || (moduleBroken ? 1 : 0);
  }
  return summary;
}

/** Formats the final line; the skipped part only appears when something was skipped. */
export function formatSummary({ passed, failed, skipped }: TestSummary): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

/** Registered in vitest.config.ts `reporters` after 'default'; see the module comment. */
export default class SummaryReporter implements Reporter {
  private vitest?: Vitest;
  private pendingLine?: string;
  private specifications: ReadonlyArray<TestSpecification> = [];

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.specifications = specifications;
  }

  onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    const summary = summarize(modules, unhandledErrors);
    // Files that never even started (e.g. globalSetup threw) are reported with no module at all.
    summary.failed += this.specifications.filter((spec) => !spec.testModule).length;
    const dir = join(this.vitest?.config.root ?? process.cwd(), '.test-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary)}\n`);
    // Coverage (and threshold errors) are printed after onTestRunEnd; defer the line so it stays
    // last. Vitest skips coverage reporting on failures unless coverage.reportOnFailure is set.
    const coverage = this.vitest?.config.coverage;
    const deferred = coverage?.enabled && (coverage.reportOnFailure || summary.failed === 0);
    if (deferred) this.pendingLine = formatSummary(summary);
    else this.print(formatSummary(summary));
  }

  /**
   * Not part of the typed Reporter interface, but vitest calls it after coverage
   * reports/thresholds.
   */
  onFinishedReportCoverage(): void {
    if (this.pendingLine) this.print(this.pendingLine);
    this.pendingLine = undefined;
  }

  private print(line: string): void {
    if (this.vitest) this.vitest.logger.log(line);
    else console.log(line);
  }
}
