/**
 * `npm test`: the README's test command, and all of CI (.ci/run). Installs the Debian packages the suite
 * needs when it can (scripts/lib/debian-packages.ts; as root or with passwordless sudo), otherwise stops
 * before running anything with the one apt-get line to run; then typecheck, ESLint, Prettier, and every
 * vitest project. `npm run test:fast` runs only what needs no package.
 */
import '../src/require-node.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/package-info.js';
import { runCommandLine } from '../src/util/command-line.js';
import { currentInstallContext, installMethod, installPackages } from './lib/apt-install.js';
import { missingMessage, missingPackages, systemProbe } from './lib/debian-packages.js';

const FAST_PROJECTS = ['unit', 'e2e'];

const { values, positionals } = runCommandLine({
  name: 'npm test',
  usage: 'npm test [-- options] [file filters]      npm run test:fast',
  summary: `Typecheck, ESLint, Prettier check, then every vitest project: unit, e2e, integration, browser,
cluster, and the failover drill (root only; skipped otherwise). First installs the Debian packages
the integration, browser, cluster and drill projects need, when it can (as root, or with
passwordless sudo), without starting their services; otherwise it stops before running anything and
prints the apt-get line to run.`,
  options: {
    fast: {
      type: 'boolean',
      description: 'only typecheck, lint, format check, unit and e2e: no packages needed (npm run test:fast)',
    },
    'no-install': {
      type: 'boolean',
      description: 'never install packages: print the apt-get line and stop instead',
    },
  },
  positionals: { max: Infinity },
  env: [['CI', 'set: the drill runs (and fails when not root) instead of skipping']],
  notes: `Positional arguments are vitest file filters (npm test -- cli.test). For one project, or any other
vitest option: npx vitest run --project unit.`,
});

const say = (line: string) => process.stdout.write(`${line}\n`);

if (!values.fast) {
  const missing = missingPackages(systemProbe());
  if (missing.length > 0) {
    const method = installMethod(currentInstallContext(values['no-install']));
    if (method.kind === 'manual') {
      process.stderr.write(
        `npm test: ${missingMessage(missing, process.getuid?.() !== 0)}\n` +
          `then run npm test again (not installed here: ${method.reason}).\n` +
          'Nothing was run; `npm run test:fast` runs the tests that need none of these packages.\n',
      );
      process.exit(1);
    }
    const names = missing.map((pkg) => pkg.name);
    say(`npm test: installing ${names.join(' ')} (${method.kind === 'sudo' ? 'with sudo' : 'as root'}) …`);
    const status = installPackages(method.kind, names);
    if (status !== 0) {
      process.stderr.write(`npm test: apt-get failed (exit ${status}); nothing was run.\n`);
      process.exit(1);
    }
    // Anything still missing is reported once by vitest (vitest.config.ts), which still runs the rest.
  }
}

const steps: [string, string, string[]][] = [
  ['typecheck', 'npm', ['run', '--silent', 'typecheck']],
  ['lint', 'npm', ['run', '--silent', 'lint']],
  ['format check', 'npm', ['run', '--silent', 'format:check']],
  [
    'vitest',
    process.execPath,
    [
      join(PACKAGE_ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      ...(values.fast ? FAST_PROJECTS.flatMap((project) => ['--project', project]) : []),
      ...positionals,
    ],
  ],
];
for (const [title, command, args] of steps) {
  say(`\n▶ ${title}`);
  const { status } = spawnSync(command, args, { cwd: PACKAGE_ROOT, stdio: 'inherit' });
  if (status !== 0) {
    if (title !== 'vitest') process.stderr.write(`npm test: ${title} failed\n`);
    process.exit(status ?? 1);
  }
}
