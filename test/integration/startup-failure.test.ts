import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../../scripts/lib/mariadb.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { occupyPort, runServerToExit, type ExitedServer } from '../helpers/server-process.js';

// A node that cannot start must exit non-zero within seconds in every mode — including a cluster node,
// whose open MySQL pool and Redis connections once kept it alive after a listen failure.

let databaseUrl: string;
beforeAll(async () => {
  // One migrated database for every node of this file (the first start migrates it, under the lock).
  databaseUrl = await createDatabase(inject('mariadbUrl'));
});

const modes = {
  MySQL: () => ({ MYSQL_URL: databaseUrl, MIGRATE: 'auto' }),
  cluster: () => ({
    MYSQL_URL: databaseUrl,
    MIGRATE: 'auto',
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `startup-${Math.random().toString(36).slice(2, 8)}:`,
  }),
};

const base = { CHAT_HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.1', BCRYPT_COST: '4' };

function expectQuickFailure(result: ExitedServer, reason: RegExp): void {
  expect(result.code, result.output).toBe(1);
  expect(result.output).toMatch(reason);
  expect(result.elapsedMs).toBeLessThan(10_000);
}

/** A port nothing listens on (so connecting to it is refused at once). */
const closedPort = freePort;

describe.each(Object.entries(modes))('a %s node that cannot start exits 1 within 10 s', (_mode, env) => {
  it('when its chat port is taken', async () => {
    const busy = await occupyPort();
    try {
      const result = await runServerToExit({ ...base, ...env(), CHAT_PORT: String(busy.port) });
      expectQuickFailure(result, new RegExp(`EADDRINUSE.*:${busy.port}`));
    } finally {
      await busy.release();
    }
  });

  it('when its admin port is taken (after the chat port opened)', async () => {
    const busy = await occupyPort();
    try {
      const result = await runServerToExit({ ...base, ...env(), ADMIN_PORT: String(busy.port) });
      expectQuickFailure(result, new RegExp(`EADDRINUSE.*:${busy.port}`));
    } finally {
      await busy.release();
    }
  });

  it('when MySQL is unreachable', async () => {
    const result = await runServerToExit({
      ...base,
      ...env(),
      MYSQL_URL: `mysql://root@127.0.0.1:${await closedPort()}/parley`,
      MYSQL_CONNECT_TIMEOUT_MS: '1000',
    });
    expectQuickFailure(result, /MYSQL_URL: cannot use the database .*ECONNREFUSED/);
  });
});

describe('a cluster node that cannot start exits 1 within 10 s', () => {
  it('when Redis is unreachable (its MySQL pool already open)', async () => {
    const result = await runServerToExit({
      ...base,
      ...modes.cluster(),
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    expectQuickFailure(result, /REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
  });
});
