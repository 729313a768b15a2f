import type { FriendStore, UserId, UserSummary } from '../service/ports.js';
import { type Database, isDuplicate } from './mysql-database.js';

export class MysqlFriendStore implements FriendStore {
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

  async list(userId: UserId): Promise<UserSummary[]> {
    const rows = await this.db.execute<UserSummary[]>(
      'SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id',
      [userId],
    );
    return rows.map((r) => ({ id: r.id, name: r.name }));
  }
}
