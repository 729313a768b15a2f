import type { SerializedError } from 'vitest';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { aptInstallLine } from '../scripts/lib/debian-packages.js';

/**
 * Says once, before any test runs, which selected projects cannot run for want of Debian packages
 * (vitest.config.ts), and closes with one plain line, `tests: N passed, N failed[, N skipped]`, that any
 * CI can read. A test file that failed without a failed test (it could not load, or a hook or setup file
 * threw) and an unhandled error each count as one failure, so the line never says 0 failed for a failed run.
 */
export class SummaryReporter implements Reporter {
  constructor(private readonly unavailable: ReadonlyMap<string, readonly string[]> = new Map()) {}

  onInit(vitest: Vitest): void {
    const selected = vitest.projects
      .map((project) => project.name)
      .filter((name) => this.unavailable.has(name));
    if (selected.length === 0) return;
    const packages = [...new Set(selected.flatMap((name) => this.unavailable.get(name)!))];
    process.stdout.write(
      `\nCANNOT RUN here: ${selected.join(', ')} (missing Debian packages: ${packages.join(' ')}).\n` +
        `They count as failed; the other projects run. Install with:\n  ${aptInstallLine(packages, process.getuid?.() !== 0)}\n\n`,
    );
  }

  onTestRunEnd(testModules: readonly TestModule[], unhandledErrors: readonly SerializedError[]): void {
    const counts = summarize(testModules);
    const failed = counts.failed + unhandledErrors.length;
    process.stdout.write(
      `\ntests: ${counts.passed} passed, ${failed} failed${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''}\n`,
    );
  }
}

/** Passed, failed and skipped tests; a failed module without a failed test counts as one failure. */
export function summarize(testModules: readonly TestModule[]): {
  passed: number;
  failed: number;
  skipped: number;
} {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const module of testModules) {
    let failedTests = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') passed++;
      else if (state === 'failed') failedTests++;
      else skipped++;
    }
    failed += failedTests > 0 ? failedTests : module.state() === 'failed' ? 1 : 0;
  }
  return { passed, failed, skipped };
}
