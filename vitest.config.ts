import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { aptInstallLine, systemProbe, unavailableProjects } from './scripts/lib/debian-packages.js';
import { SummaryReporter } from './test/summary-reporter.js';

// Projects that cannot run here for want of a Debian package (scripts/lib/debian-packages.ts). Each runs
// one failing test that names what is missing instead of its files, so it counts as failed, the message
// comes once at the top (SummaryReporter), and every other project still runs. The drill is left alone
// where it would skip anyway (not root, not CI).
const unavailable = unavailableProjects(systemProbe());

// Client libraries created by tests without a device name keep the generated one under XDG_CONFIG_HOME:
// a directory of the test run, never the user's ~/.config (child processes inherit it).
process.env.XDG_CONFIG_HOME = mkdtempSync(join(tmpdir(), 'parley-test-config-'));
if (process.getuid?.() !== 0 && !process.env.CI) unavailable.delete('drill');

function project(
  test: TestProjectInlineConfiguration['test'] & { name: string },
): TestProjectInlineConfiguration {
  const missing = unavailable.get(test.name);
  if (missing === undefined) return { test };
  return {
    test: {
      name: test.name,
      include: ['test/unavailable.test.ts'],
      provide: { unavailable: { packages: missing, install: aptInstallLine(missing) } },
    },
  };
}

// Projects per docs/ARCHITECTURE.md: unit (no services), e2e (real sockets on port 0, real processes),
// integration (private MariaDB and Redis started by test/integration-setup.ts, nginx, keepalived -t),
// browser (Chromium), cluster (a local cluster behind nginx), drill (network namespaces, root).
export const config = defineConfig({
  test: {
    reporters: ['default', new SummaryReporter(unavailable)],
    projects: [
      project({ name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 }),
      project({ name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 }),
      project({
        name: 'integration',
        include: ['test/integration/**/*.test.ts'],
        globalSetup: ['test/integration-setup.ts'],
        // Fails each file at once, naming the cause, when the global setup could not start the servers.
        setupFiles: ['test/integration-guard.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
      }),
      project({
        name: 'browser',
        include: ['test/browser/**/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
      }),
      project({
        name: 'cluster',
        include: ['test/cluster/**/*.test.ts'],
        // One cluster at a time: their failover timings must not compete for the CPU with another one.
        fileParallelism: false,
        testTimeout: 90_000,
        hookTimeout: 90_000,
      }),
      // The failover drill in network namespaces (root): one long test that runs `npm run drill`, alone
      // after every other project (groupOrder), so its failovers are not timed on a machine busy with them.
      project({
        name: 'drill',
        include: ['test/drill/**/*.test.ts'],
        testTimeout: 420_000,
        sequence: { groupOrder: 1 },
      }),
    ],
  },
});

// vitest loads the default export of its config file.
// eslint-disable-next-line no-restricted-syntax
export default config;
