import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { Database } from '../../src/model/mysql-database.js';
import { createDatabase } from '../../scripts/lib/mariadb.js';

const rootUrl = inject('mariadbUrl');

describe('MySQL pool', () => {
  it('pings a connection that sat idle past validateAfterIdleMs (by its clock) and replaces a dead one', async () => {
    let now = 1_000_000;
    const url = await createDatabase(rootUrl);
    const db = new Database({
      url,
      poolSize: 1,
      acquireTimeoutMs: 2000,
      connectTimeoutMs: 2000,
      validateAfterIdleMs: 5000,
      logger: createLogger('silent'),
      clock: { now: () => now },
    });
    const admin = new Database({
      url,
      poolSize: 1,
      acquireTimeoutMs: 2000,
      connectTimeoutMs: 2000,
      logger: createLogger('silent'),
    });
    const connectionId = async () =>
      (await db.query<{ id: number }[]>('SELECT CONNECTION_ID() AS id'))[0]!.id;
    try {
      const first = await connectionId();
      // The server drops it while it sits idle for longer than the limit (no real time passes): the
      // borrow's ping finds it dead and the pool opens another, so the caller never sees the dead one.
      await admin.query(`KILL ${first}`);
      now += 5001;
      const second = await connectionId();
      expect(second).not.toBe(first);
    } finally {
      await Promise.all([db.close(), admin.close()]);
    }
  });
});
