import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEBIAN_PACKAGES } from '../../scripts/lib/debian-packages.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const roots: string[] = [];
afterAll(() => roots.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A directory standing for `/` on a machine that has every Debian package but the ones named. */
function machineWithout(...absent: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'parley-probe-root-'));
  roots.push(root);
  for (const pkg of DEBIAN_PACKAGES.filter((p) => !absent.includes(p.name))) {
    for (const file of pkg.provides) {
      const path = join(root, file.startsWith('/') ? file : `/usr/bin/${file}`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, '');
    }
  }
  return root;
}

function run(
  args: string[],
  probeRoot: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Without the parent vitest's variables, so a nested vitest runs as a fresh one.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...env, NO_COLOR: '1', PARLEY_PROBE_ROOT: probeRoot },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('npm test on a machine without the Debian packages', () => {
  it('stops before running anything, naming what is missing and the apt-get line', async () => {
    const { code, stdout, stderr } = await run(
      ['--import', 'tsx', 'scripts/test.ts', '--no-install'],
      machineWithout('redis-server', 'chromium'),
    );
    expect(code).toBe(1);
    expect(stdout).toBe(''); // no step started: no "▶ typecheck"
    const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
    expect(stderr).toBe(
      [
        'npm test: missing Debian packages:',
        '  redis-server  private Redis servers (redis-server not found)',
        '  chromium      the admin page test (playwright-core) (/usr/bin/chromium not found)',
        'Install them with:',
        `  ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends redis-server chromium`,
        'then run npm test again (not installed here: --no-install was given).',
        'Nothing was run; `npm run test:fast` runs the tests that need none of these packages.',
        '',
      ].join('\n'),
    );
  });

  it('vitest says once, at the top, which projects cannot run; they fail and the others run', async () => {
    const { code, stdout } = await run(
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        '--project',
        'unit',
        '--project',
        'integration',
        'test/unit/util/evict-oldest',
        'test/unavailable',
      ],
      machineWithout('redis-server'),
    );
    expect(code).toBe(1);
    const notice = 'CANNOT RUN here: integration (missing Debian packages: redis-server).';
    expect(stdout.split(notice).length - 1).toBe(1);
    expect(stdout.indexOf(notice)).toBeLessThan(stdout.indexOf('evict-oldest'));
    expect(stdout).toContain('apt-get install -y --no-install-recommends redis-server');
    expect(stdout).toMatch(/integration\W+test\/unavailable\.test\.ts \(1 test \| 1 failed\)/);
    expect(stdout).toContain('cannot run here: needs redis-server');
    expect(stdout).not.toContain('No test files found');
    expect(stdout).toMatch(/\ntests: [1-9]\d* passed, 1 failed\n$/);
  });
});
