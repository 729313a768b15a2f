import type { ChatStore } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { Database } from './mysql-database.js';
import { MysqlFriendStore } from './mysql-friend-store.js';
import { MysqlGroupStore } from './mysql-group-store.js';
import { MysqlMessageStore, type MessageStoreTuning } from './mysql-message-store.js';
import { MysqlUserStore } from './mysql-user-store.js';

/** The MySQL/MariaDB ChatStore over one connection pool; closing it drains the pool. */
export function createMysqlStore(
  db: Database,
  clock: Clock,
  tuning: Partial<MessageStoreTuning> = {},
): ChatStore {
  const messages = new MysqlMessageStore(db, clock, tuning);
  return {
    users: new MysqlUserStore(db),
    friends: new MysqlFriendStore(db),
    groups: new MysqlGroupStore(db),
    messages,
    stats: () => ({ ...db.stats() }),
    observe: (telemetry) => messages.observe(telemetry),
    close: () => {
      messages.stop();
      return db.close();
    },
  };
}
