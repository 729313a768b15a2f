import DataLoader from 'dataloader';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { AppError } from '../errors.js';
import type {
  GroupId,
  GroupRole,
  GroupStore,
  GroupSummary,
  GroupWithMembers,
  UserId,
} from '../service/ports.js';
import { nameKey } from '../service/text-rules.js';
import { BatchGate } from './batch-gate.js';
import { type Database, isDuplicate } from './mysql-database.js';

interface GroupRow {
  id: number;
  groupname: string;
  groupdesc: string;
}

interface MemberRow {
  groupid: number;
  id: number;
  name: string;
  grouprole: GroupRole;
}

const toGroup = (row: GroupRow): GroupSummary => ({ id: row.id, name: row.groupname, desc: row.groupdesc });

/** MySQL's "foreign key constraint fails" (here: the group does not exist). */
const isMissingParent = (error: unknown) =>
  (error as { code?: string } | null)?.code === 'ER_NO_REFERENCED_ROW_2';

/** Most users whose groups one query reads. */
const GROUPS_BATCH = 100;

export class MysqlGroupStore implements GroupStore {
  /**
   * A user's groups are read at every v1 login: under load those arriving while a read is in flight go
   * out as one query (BatchGate). Not a cache.
   */
  private readonly gate = new BatchGate();
  private readonly groupsOf = new DataLoader<UserId, GroupRow[]>(
    (userIds) => this.gate.track(this.loadGroupsOf(userIds)),
    { cache: false, batchScheduleFn: this.gate.schedule, maxBatchSize: GROUPS_BATCH },
  );

  constructor(private readonly db: Database) {}

  private async loadGroupsOf(userIds: readonly UserId[]): Promise<GroupRow[][]> {
    const ids = [...new Set(userIds)];
    if (ids.length === 1) {
      // One user: the prepared statement (cheaper than a text query with its parameters escaped in).
      const rows = await this.db.execute<GroupRow[]>(
        'SELECT g.id, g.groupname, g.groupdesc FROM groupuser gu JOIN allgroup g ON g.id = gu.groupid WHERE gu.userid = ? ORDER BY g.id',
        [ids[0]!],
      );
      return userIds.map(() => rows);
    }
    const rows = await this.db.query<(GroupRow & { userid: number })[]>(
      `SELECT gu.userid, g.id, g.groupname, g.groupdesc FROM groupuser gu JOIN allgroup g ON g.id = gu.groupid
       WHERE gu.userid IN (${ids.map(() => '?').join(',')}) ORDER BY gu.userid, g.id`,
      ids,
    );
    const byUser = new Map<UserId, GroupRow[]>();
    for (const row of rows) {
      let list = byUser.get(row.userid);
      if (!list) byUser.set(row.userid, (list = []));
      list.push(row);
    }
    return userIds.map((id) => byUser.get(id) ?? []);
  }

  async create(creatorId: UserId, name: string, desc: string): Promise<GroupSummary> {
    try {
      return await this.db.transaction(async (connection) => {
        const [result] = await connection.execute<ResultSetHeader>(
          'INSERT INTO allgroup (groupname, name_key, groupdesc) VALUES (?, ?, ?)',
          [name, nameKey(name), desc],
        );
        await connection.execute(
          "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')",
          [result.insertId, creatorId],
        );
        return { id: result.insertId, name, desc };
      });
    } catch (error) {
      if (isDuplicate(error, 'uq_allgroup_name')) throw new AppError('GROUP_EXISTS');
      throw error;
    }
  }

  async find(id: GroupId): Promise<GroupSummary | undefined> {
    const rows = await this.db.execute<GroupRow[]>(
      'SELECT id, groupname, groupdesc FROM allgroup WHERE id = ?',
      [id],
    );
    return rows[0] && toGroup(rows[0]);
  }

  async addMember(groupId: GroupId, userId: UserId): Promise<boolean> {
    try {
      await this.db.execute("INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal')", [
        groupId,
        userId,
      ]);
      return true;
    } catch (error) {
      if (isDuplicate(error)) return false;
      if (isMissingParent(error)) throw new AppError('GROUP_NOT_FOUND');
      throw error;
    }
  }

  async isMember(groupId: GroupId, userId: UserId): Promise<boolean> {
    const rows = await this.db.execute<RowDataPacket[]>(
      'SELECT 1 FROM groupuser WHERE groupid = ? AND userid = ?',
      [groupId, userId],
    );
    return rows.length > 0;
  }

  async memberIds(groupId: GroupId): Promise<UserId[]> {
    const rows = await this.db.execute<{ userid: number }[]>(
      'SELECT userid FROM groupuser WHERE groupid = ?',
      [groupId],
    );
    return rows.map((r) => r.userid);
  }

  async listForUser(userId: UserId): Promise<GroupWithMembers[]> {
    const groups = await this.groupsOf.load(userId);
    if (groups.length === 0) return [];
    const members = await this.db.query<MemberRow[]>(
      `SELECT gu.groupid, u.id, u.name, gu.grouprole FROM groupuser gu JOIN user u ON u.id = gu.userid
       WHERE gu.groupid IN (${groups.map(() => '?').join(',')})
       ORDER BY gu.groupid, gu.grouprole = 'creator' DESC, gu.joined_at, u.id`,
      groups.map((g) => g.id),
    );
    return groups.map((g) => ({
      ...toGroup(g),
      members: members
        .filter((m) => m.groupid === g.id)
        .map((m) => ({ id: m.id, name: m.name, role: m.grouprole })),
    }));
  }
}
