import { afterAll, beforeAll } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient } from '../../src/client/parley-client.js';
import { MariaDb } from '../../scripts/lib/mariadb.js';
import { startTestApp } from './test-app.js';

/** A node and the private MariaDB it runs on, for tests that stop or kill the database. */
export interface OutageNode {
  readonly mariadb: MariaDb;
  readonly app: RunningApp;
}

/**
 * Registers hooks that start a private MariaDB and a node on it (short acquire and connect timeouts, so an
 * outage shows within half a second) before the suite, and remove both after it. Read the fields in tests.
 */
export function useNodeOnPrivateMariaDb(env: Record<string, string> = {}): OutageNode {
  const handle = {} as { mariadb: MariaDb; app: RunningApp };
  beforeAll(async () => {
    handle.mariadb = await MariaDb.start();
    handle.app = await startTestApp({
      MYSQL_URL: await handle.mariadb.createDatabase(),
      MIGRATE: 'auto',
      MYSQL_ACQUIRE_TIMEOUT_MS: '500',
      MYSQL_CONNECT_TIMEOUT_MS: '500',
      ...env,
    });
  });
  afterAll(async () => {
    await handle.app?.stop();
    await handle.mariadb?.destroy();
  });
  return handle;
}

/** A v2 client for 127.0.0.1:`port`, not yet connected, with quick reconnects for fault tests. */
export function testClient(port: number, requestTimeoutMs = 5000): ParleyClient {
  return new ParleyClient({
    host: '127.0.0.1',
    port,
    transport: 'tcp',
    backoffMinMs: 20,
    backoffMaxMs: 200,
    requestTimeoutMs,
  });
}

/** A `testClient`, connected, registered as `name` and logged in. */
export async function loggedInClient(
  port: number,
  name: string,
  requestTimeoutMs = 5000,
): Promise<ParleyClient> {
  const client = testClient(port, requestTimeoutMs);
  await client.connect();
  await client.register(name, 'pw');
  await client.login({ name }, 'pw');
  return client;
}
