import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MINIMUM_NODE, nodeVersionProblem } from '../../src/node-version.js';

describe('the Node.js version check', () => {
  it('refuses versions before 20.15 (no zlib.crc32) in one line that says what to do', () => {
    for (const old of ['18.19.0', 'v18.20.4', '20.14.9', '20.10.0', '16.0.0', '20.9.99']) {
      const problem = nodeVersionProblem(old);
      expect(problem, old).toBe(
        `Parley needs Node.js 20.15 or newer; this is Node.js ${old.replace(/^v/, '')} (install Node 20 or 22: see "Node.js" in README.md)`,
      );
    }
  });

  it('accepts 20.15 and everything newer', () => {
    for (const ok of ['20.15.0', 'v20.15.1', '20.20.2', '21.0.0', '22.12.0', '24.1.0-nightly']) {
      expect(nodeVersionProblem(ok), ok).toBeUndefined();
    }
  });

  it('refuses what it cannot read rather than guessing', () => {
    expect(nodeVersionProblem('unknown')).toMatch(/needs Node.js 20.15 or newer/);
  });

  it('agrees with the engines field of package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE.replace(/\.0$/, '')}`);
  });
});
