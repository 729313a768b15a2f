// The server as plain JavaScript, built on demand: `npm start`, `npm run cluster`, the benchmarks, the
// drill and the tests run `node <build>/src/main.js` instead of the TypeScript sources under tsx, whose
// loader (a hooks thread with its own V8 isolate, esbuild, source maps) costs every node 30–40 MB of RSS
// and wraps named closures in `__name()` (docs/BENCHMARKS.md, "Node baseline").
//
// Plain JavaScript itself, so it runs before anything is built. The build is keyed by a hash of every
// source file's path and content (and of esbuild's version and the options below): a changed, added or
// removed file gives a new key and a new build, so a stale build is never run — not even after a
// checkout that keeps modification times. Each key is its own directory under dist/dev/, made in a
// temporary directory and renamed into place when complete, so processes starting at once (a cluster's
// nodes, parallel tests) never see a half-written build; when two build the same key, one rename wins.
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this file belongs to. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Builds kept besides the current one (other branches, recent edits); older ones are removed. */
const KEEP_BUILDS = 4;
/** A build used within this long is never removed (a node started from it may still be running). */
const KEEP_RECENT_MS = 60 * 60 * 1000;
/** Marks a build directory whose files were all written. */
const COMPLETE = '.complete';

/** esbuild's per-file transform of src/ (no bundling: the output mirrors src/ under <build>/src/). */
const OPTIONS = {
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Linked maps for `node --enable-source-maps` when a stack trace should name TypeScript lines; Node
  // reads none without that flag, so they cost an idle node nothing.
  sourcemap: 'linked',
  logLevel: 'error',
};

/** Every `.ts` file under `dir`, relative to ROOT with `/` separators, sorted. */
function sources(root, dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(root, path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
      out.push(relative(root, path).split(sep).join('/'));
  }
  return out.sort();
}

function esbuildVersion(root) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules/esbuild/package.json'), 'utf8')).version;
  } catch {
    throw new Error(
      'running the server from source needs the development dependencies (npm ci); an install without ' +
        'them (npm ci --omit=dev) runs the tsc build: npm run build, then npm run start:prod',
    );
  }
}

/** The build key: a hash over the toolchain, the options, tsconfig.json and every source file. */
function buildKey(root, files) {
  const hash = createHash('sha256');
  hash.update(`esbuild ${esbuildVersion(root)}\n${JSON.stringify(OPTIONS)}\n`);
  hash.update(readFileSync(join(root, 'tsconfig.json')));
  for (const file of files) {
    hash.update(`\n${file}\n`);
    hash.update(readFileSync(join(root, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Removes builds beyond the newest KEEP_BUILDS that nobody used for KEEP_RECENT_MS, and stray temp dirs. */
function prune(buildsDir, current) {
  const now = Date.now();
  const builds = readdirSync(buildsDir)
    .filter((name) => name !== current)
    .map((name) => {
      try {
        return { name, mtimeMs: statSync(join(buildsDir, name)).mtimeMs };
      } catch {
        return undefined; // removed meanwhile by another process
      }
    })
    .filter((build) => build !== undefined)
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  builds.forEach((build, index) => {
    if (now - build.mtimeMs > KEEP_RECENT_MS && (index >= KEEP_BUILDS || build.name.startsWith('.tmp-')))
      rmSync(join(buildsDir, build.name), { recursive: true, force: true });
  });
}

/** A failure whose message says what to do; `npm start` prints it without a stack. */
export class ServerBuildError extends Error {}

/** Fails with what to do when this user cannot write the builds (another user, e.g. root, made them). */
function assertWritable(root, buildsDir) {
  try {
    mkdirSync(buildsDir, { recursive: true });
    accessSync(buildsDir, constants.W_OK);
  } catch (error) {
    if (error?.code !== 'EPERM' && error?.code !== 'EACCES' && error?.code !== 'EROFS') throw error;
    const owner = existsSync(buildsDir) ? ` (owned by uid ${statSync(buildsDir).uid})` : '';
    throw new ServerBuildError(
      `cannot write the server build in ${buildsDir}${owner}: ${error.code}. ` +
        `Run as the checkout's owner, or give it to this user: chown -R "$(id -u)" ${join(root, 'dist')} ` +
        `(or remove it: rm -rf ${join(root, 'dist', 'dev')}).`,
    );
  }
}

/**
 * Makes sure a build of the current sources exists (building it when not, ~0.3 s) and returns the path
 * of its `src/main.js`. Synchronous, so it can run in an npm script or before a spawn. `root`: a checkout
 * (tests build a small tree of their own).
 */
export function ensureServerBuild(root = ROOT) {
  const files = sources(root, join(root, 'src'));
  const key = buildKey(root, files);
  const buildsDir = join(root, 'dist', 'dev');
  const dir = join(buildsDir, key);
  const main = join(dir, 'src', 'main.js');
  if (existsSync(join(dir, COMPLETE))) {
    // Marks it as in use, for prune().
    const now = new Date();
    try {
      utimesSync(dir, now, now);
    } catch (error) {
      // Another user's build (root ran it first): usable as it is; only the clean-up order is lost.
      if (error?.code !== 'EPERM' && error?.code !== 'EACCES') throw error;
    }
    return main;
  }
  assertWritable(root, buildsDir);
  const temp = join(buildsDir, `.tmp-${process.pid}-${Date.now()}`);
  const esbuild = createRequire(join(root, 'package.json'))('esbuild');
  try {
    esbuild.buildSync({
      ...OPTIONS,
      entryPoints: files.map((file) => join(root, file)),
      outdir: join(temp, 'src'),
      outbase: join(root, 'src'),
      absWorkingDir: root,
      tsconfig: join(root, 'tsconfig.json'),
    });
    writeFileSync(join(temp, COMPLETE), `${files.length} files\n`);
    // A directory without the mark (files removed by hand) is not a build: replaced.
    if (existsSync(dir) && !existsSync(join(dir, COMPLETE))) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(temp, dir);
    } catch (error) {
      // Another process renamed the same build into place first: theirs is as good as ours.
      if (!existsSync(join(dir, COMPLETE))) throw error;
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  try {
    prune(buildsDir, key);
  } catch (error) {
    // Old builds of another user: theirs to remove; ours runs regardless.
    if (error?.code !== 'EPERM' && error?.code !== 'EACCES') throw error;
  }
  return main;
}

// `node scripts/server-build.mjs`: builds if needed and prints the entry point.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${ensureServerBuild()}\n`);
}
