import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/logger.js';
import { Database } from '../../src/model/mysql-database.js';
import { createMysqlStore } from '../../src/model/mysql-store.js';
import { loadMigrations, migrate } from '../../src/model/migrator.js';
import type { ChatStore } from '../../src/service/ports.js';
import { type Clock, systemClock } from '../../src/util/clock.js';
import { createDatabase } from '../../scripts/lib/mariadb.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql', import.meta.url));

export function openDatabase(url: string, poolSize = 5): Database {
  return new Database({
    url,
    poolSize,
    acquireTimeoutMs: 2000,
    connectTimeoutMs: 2000,
    logger: createLogger('silent'),
  });
}

/** A migrated, empty database of its own, and a MySQL store over it (with the given clock and retention). */
export async function freshMysqlStore(
  rootUrl: string,
  options: { readonly clock?: Clock; readonly deviceRetentionMs?: number } = {},
): Promise<{ store: ChatStore; db: Database; url: string }> {
  const url = await createDatabase(rootUrl);
  const db = openDatabase(url);
  await migrate(db, await loadMigrations(SQL_DIR));
  return {
    store: createMysqlStore(db, options.clock ?? systemClock, {}, options.deviceRetentionMs),
    db,
    url,
  };
}
