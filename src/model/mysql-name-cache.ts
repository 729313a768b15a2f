import type { Connection, RowDataPacket } from 'mysql2/promise';
import { AppError } from '../errors.js';
import type { MessageDraft } from '../service/ports.js';
import { evictOldest } from '../util/evict-oldest.js';

/** Names cached per store (users and groups are never renamed). */
const NAME_CACHE_MAX = 100_000;

/** Sender and group names by id, as a stored message carries them. */
export interface Names {
  readonly users: ReadonlyMap<number, string>;
  readonly groups: ReadonlyMap<number, string>;
}

/**
 * Sender and group names for appended messages. Cached without expiry because users and groups are never
 * renamed, so a batch usually costs no lookup at all; bounded by `evictOldest`.
 */
export class MysqlNameCache {
  private readonly users = new Map<number, string>();
  private readonly groups = new Map<number, string>();

  /**
   * Loads the names `drafts` need that are not cached yet, on the batch's connection. Throws
   * USER_NOT_FOUND when a sender does not exist, so an unknown sender fails the batch before anything
   * is written.
   */
  async namesOf(connection: Connection, drafts: readonly MessageDraft[]): Promise<Names> {
    const senders = [...new Set(drafts.map((draft) => draft.senderId))].filter((id) => !this.users.has(id));
    const groupIds = [
      ...new Set(drafts.flatMap((draft) => (draft.target.kind === 'group' ? [draft.target.id] : []))),
    ].filter((id) => !this.groups.has(id));
    if (senders.length > 0) {
      const [rows] = await connection.query<({ id: number; name: string } & RowDataPacket)[]>(
        `SELECT id, name FROM user WHERE id IN (${senders.map(() => '?').join(',')})`,
        senders,
      );
      if (rows.length < senders.length) throw new AppError('USER_NOT_FOUND', 'sender does not exist');
      for (const row of rows) remember(this.users, row.id, row.name);
    }
    if (groupIds.length > 0) {
      const [rows] = await connection.query<({ id: number; groupname: string } & RowDataPacket)[]>(
        `SELECT id, groupname FROM allgroup WHERE id IN (${groupIds.map(() => '?').join(',')})`,
        groupIds,
      );
      for (const row of rows) remember(this.groups, row.id, row.groupname);
    }
    return { users: this.users, groups: this.groups };
  }
}

function remember(cache: Map<number, string>, id: number, name: string): void {
  cache.set(id, name);
  evictOldest(cache, NAME_CACHE_MAX);
}
