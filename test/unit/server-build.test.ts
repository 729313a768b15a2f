import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../scripts/server-build.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A tiny checkout: package.json, tsconfig.json, src/ with two modules, the repository's node_modules. */
let root: string;
const write = (path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};
const run = (main: string) => spawnSync(process.execPath, [main], { encoding: 'utf8' }).stdout.trim();

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'parley-server-build-'));
  write('package.json', '{ "type": "module" }\n');
  write('tsconfig.json', '{ "compilerOptions": { "strict": true } }\n');
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  write(
    'src/main.ts',
    "import { word } from './util/word.js';\nconst n: number = 1;\nconsole.log(word, n);\n",
  );
  write('src/util/word.ts', "export const word: string = 'one';\n");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the server build from source (scripts/server-build.mjs)', () => {
  it('builds src/ to JavaScript that runs without tsx, and reuses it while nothing changed', () => {
    const main = ensureServerBuild(root);
    expect(main.startsWith(join(root, 'dist', 'dev'))).toBe(true);
    expect(run(main)).toBe('one 1');
    expect(ensureServerBuild(root)).toBe(main);
  });

  it('never runs a stale build: a changed, added or removed source gives a new build', () => {
    const first = ensureServerBuild(root);
    write('src/util/word.ts', "export const word: string = 'two';\n");
    const second = ensureServerBuild(root);
    expect(second).not.toBe(first);
    expect(run(second)).toBe('two 1');

    write('src/extra.ts', 'export {};\n');
    const third = ensureServerBuild(root);
    expect(third).not.toBe(second);
    rmSync(join(root, 'src/extra.ts'));
    // Back to the sources of `second`: its build, which is complete, is used again.
    expect(ensureServerBuild(root)).toBe(second);
  });

  it('rebuilds when tsconfig.json changes, and leaves no temporary directory behind', () => {
    const first = ensureServerBuild(root);
    write('tsconfig.json', '{ "compilerOptions": { "strict": false } }\n');
    expect(ensureServerBuild(root)).not.toBe(first);
    expect(readdirSync(join(root, 'dist', 'dev')).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('replaces a build directory without its completion mark instead of running it', () => {
    const main = ensureServerBuild(root);
    rmSync(join(dirname(dirname(main)), '.complete'));
    rmSync(main);
    expect(ensureServerBuild(root)).toBe(main);
    expect(existsSync(main)).toBe(true);
    expect(run(main)).toBe('one 1');
  });
});
