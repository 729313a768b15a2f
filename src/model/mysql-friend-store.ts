import DataLoader from 'dataloader';
import type { RowDataPacket } from 'mysql2/promise';
import type { FriendStore, UserId, UserSummary } from '../service/ports.js';
import { BatchGate } from './batch-gate.js';
import { type Database, isDuplicate } from './mysql-database.js';

/** Most users whose friend lists one query reads. */
const LIST_BATCH = 100;

interface FriendRow extends RowDataPacket {
  userid: number;
  id: number;
  name: string;
}

export class MysqlFriendStore implements FriendStore {
  /**
   * Friend lists are read at every login (the reply) and at every presence change (whom to tell): under
   * load those arriving while a read is in flight go out as one query (BatchGate). Not a cache.
   */
  private readonly gate = new BatchGate();
  private readonly lists = new DataLoader<UserId, UserSummary[]>(
    (userIds) => this.gate.track(this.loadLists(userIds)),
    { cache: false, batchScheduleFn: this.gate.schedule, maxBatchSize: LIST_BATCH },
  );

  constructor(private readonly db: Database) {}

  async add(a: UserId, b: UserId): Promise<boolean> {
    try {
      // Both directions in one transaction: friendship is mutual or absent, never half.
      await this.db.transaction(async (connection) => {
        await connection.execute('INSERT INTO friend (userid, friendid) VALUES (?, ?), (?, ?)', [a, b, b, a]);
      });
      return true;
    } catch (error) {
      if (isDuplicate(error)) return false;
      throw error;
    }
  }

  list(userId: UserId): Promise<UserSummary[]> {
    return this.lists.load(userId);
  }

  private async loadLists(userIds: readonly UserId[]): Promise<UserSummary[][]> {
    const ids = [...new Set(userIds)];
    if (ids.length === 1) {
      // One user: the prepared statement (cheaper than a text query with its parameters escaped in).
      const rows = await this.db.execute<UserSummary[]>(
        'SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id',
        [ids[0]!],
      );
      const list = rows.map((r) => ({ id: r.id, name: r.name }));
      return userIds.map(() => list.map((f) => ({ ...f })));
    }
    const rows = await this.db.query<FriendRow[]>(
      `SELECT f.userid, u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid
       WHERE f.userid IN (${ids.map(() => '?').join(',')}) ORDER BY f.userid, u.id`,
      ids,
    );
    const lists = new Map<UserId, UserSummary[]>();
    for (const row of rows) {
      let list = lists.get(row.userid);
      if (!list) lists.set(row.userid, (list = []));
      list.push({ id: row.id, name: row.name });
    }
    return userIds.map((id) => (lists.get(id) ?? []).map((f) => ({ ...f })));
  }
}
