import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/summary-reporter.js';

// Projects per docs/ARCHITECTURE.md: unit (no services), e2e (real sockets on port 0, real processes),
// integration (a real MariaDB started by test/integration-setup.ts; Redis and nginx join later).
export const config = defineConfig({
  test: {
    reporters: ['default', new SummaryReporter()],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
      {
        // The failover drill in network namespaces (root): one long test that runs `npm run drill`, alone
        // after every other project (groupOrder), so its failovers are not timed on a machine busy with them.
        test: {
          name: 'drill',
          include: ['test/drill/**/*.test.ts'],
          testTimeout: 420_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

// vitest loads the default export of its config file.
// eslint-disable-next-line no-restricted-syntax
export default config;
