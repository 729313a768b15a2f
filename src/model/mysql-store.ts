import type { ChatStore } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { Database } from './mysql-database.js';
import { MysqlFriendStore } from './mysql-friend-store.js';
import { MysqlGroupStore } from './mysql-group-store.js';
import {
  DEFAULT_DEVICE_RETENTION_MS,
  MysqlMessageStore,
  type MessageStoreTuning,
} from './mysql-message-store.js';
import { MysqlReadStore } from './mysql-read-store.js';
import { MysqlUserStore } from './mysql-user-store.js';

/**
 * The MySQL/MariaDB ChatStore over one connection pool; closing it drains the pool. `clock` stamps
 * messages and device activity; `deviceRetentionMs` is how long an idle device holds back pruning.
 */
export function createMysqlStore(
  db: Database,
  clock: Clock,
  tuning: Partial<MessageStoreTuning> = {},
  deviceRetentionMs: number = DEFAULT_DEVICE_RETENTION_MS,
): ChatStore {
  const messages = new MysqlMessageStore(db, clock, tuning, deviceRetentionMs);
  return {
    users: new MysqlUserStore(db),
    friends: new MysqlFriendStore(db),
    groups: new MysqlGroupStore(db),
    messages,
    reads: new MysqlReadStore(db),
    stats: () => ({ ...db.stats() }),
    observe: (telemetry) => messages.observe(telemetry),
    close: async () => {
      await messages.stop();
      await db.close();
    },
  };
}
