import DataLoader from 'dataloader';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { AppError } from '../errors.js';
import type { UserId, UserRecord, UserStore, UserSummary } from '../service/ports.js';
import { nameKey } from '../service/text-rules.js';
import { BatchGate } from './batch-gate.js';
import { type Database, isDuplicate } from './mysql-database.js';

interface UserRow {
  id: number;
  name: string;
  password: string;
  session_epoch: number;
  presence_hidden: number;
}

const USER_COLUMNS = 'id, name, password, session_epoch, presence_hidden';

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  passwordHash: row.password,
  sessionEpoch: row.session_epoch,
  presenceHidden: Boolean(row.presence_hidden),
});

/** Most ids in one IN (…) list. */
const BATCH = 500;

export class MysqlUserStore implements UserStore {
  /**
   * Lookups by id go out batched as one `IN (…)` query — those of one loop turn, and under load those
   * that arrive while the previous batch is in flight (BatchGate): a reconnect or login storm needs a user
   * row per session. Not a cache: every load reads the database.
   */
  private readonly byIdGate = new BatchGate();
  private readonly byId = new DataLoader<UserId, UserRecord | undefined>(
    (ids) => this.byIdGate.track(this.loadByIds(ids)),
    { cache: false, batchScheduleFn: this.byIdGate.schedule, maxBatchSize: BATCH },
  );

  constructor(private readonly db: Database) {}

  private async loadByIds(ids: readonly UserId[]): Promise<(UserRecord | undefined)[]> {
    const rows = await this.db.query<UserRow[]>(
      `SELECT ${USER_COLUMNS} FROM user WHERE id IN (${ids.map(() => '?').join(',')})`,
      ids,
    );
    const found = new Map(rows.map((row) => [row.id, toUser(row)]));
    return ids.map((id) => found.get(id));
  }

  async create(name: string, passwordHash: string): Promise<UserRecord> {
    try {
      const result = await this.db.execute<ResultSetHeader>(
        'INSERT INTO user (name, name_key, password) VALUES (?, ?, ?)',
        [name, nameKey(name), passwordHash],
      );
      return { id: result.insertId, name, passwordHash, sessionEpoch: 0, presenceHidden: false };
    } catch (error) {
      if (isDuplicate(error, 'uq_user_name')) throw new AppError('USER_EXISTS');
      throw error;
    }
  }

  findById(id: UserId): Promise<UserRecord | undefined> {
    return this.byId.load(id);
  }

  async findByName(name: string): Promise<UserRecord | undefined> {
    const rows = await this.db.execute<UserRow[]>(`SELECT ${USER_COLUMNS} FROM user WHERE name_key = ?`, [
      nameKey(name),
    ]);
    return rows[0] && toUser(rows[0]);
  }

  async findSummaries(ids: readonly UserId[]): Promise<UserSummary[]> {
    const found: UserSummary[] = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const rows = await this.db.query<UserSummary[]>(
        `SELECT id, name FROM user WHERE id IN (${batch.map(() => '?').join(',')})`,
        batch,
      );
      found.push(...rows.map((r) => ({ id: r.id, name: r.name })));
    }
    return found;
  }

  async bumpSessionEpoch(id: UserId): Promise<number> {
    return this.db.transaction(async (connection) => {
      const [result] = await connection.execute<ResultSetHeader>(
        'UPDATE user SET session_epoch = session_epoch + 1 WHERE id = ?',
        [id],
      );
      if (result.affectedRows === 0) throw new AppError('USER_NOT_FOUND');
      const [rows] = await connection.execute<(UserRow & RowDataPacket)[]>(
        'SELECT session_epoch FROM user WHERE id = ?',
        [id],
      );
      return rows[0]!.session_epoch;
    });
  }

  async setPresenceHidden(id: UserId, hidden: boolean): Promise<void> {
    // affectedRows counts matched rows (mysql2 sets CLIENT_FOUND_ROWS), so 0 means no such user.
    const result = await this.db.execute<ResultSetHeader>(
      'UPDATE user SET presence_hidden = ? WHERE id = ?',
      [hidden ? 1 : 0, id],
    );
    if (result.affectedRows === 0) throw new AppError('USER_NOT_FOUND');
  }
}
