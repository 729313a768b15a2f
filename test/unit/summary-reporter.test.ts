import type { TestModule } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { summarize } from '../summary-reporter.js';

/** Just enough of a TestModule: its state and its tests' states. */
function module(state: string, tests: string[]): TestModule {
  return {
    state: () => state,
    children: { allTests: () => tests.map((test) => ({ result: () => ({ state: test }) })) },
  } as unknown as TestModule;
}

describe('the closing summary', () => {
  it('counts passed, failed and skipped tests', () => {
    expect(
      summarize([module('passed', ['passed', 'passed', 'skipped']), module('failed', ['passed', 'failed'])]),
    ).toEqual({ passed: 3, failed: 1, skipped: 1 });
  });

  it('counts a file that failed without a failed test (setup threw, did not load) as one failure', () => {
    expect(summarize([module('failed', []), module('passed', ['passed'])])).toEqual({
      passed: 1,
      failed: 1,
      skipped: 0,
    });
    // A failed hook after passing tests fails the file, too.
    expect(summarize([module('failed', ['passed'])])).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });
});
