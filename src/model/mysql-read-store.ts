import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { conversationKey, targetOfKey } from '../service/conversation.js';
import type {
  ConversationPage,
  ConversationSummary,
  ReadMarker,
  ReadStore,
  Target,
  UserId,
} from '../service/ports.js';
import { UNREAD_COUNT_CAP } from '../service/ports.js';
import type { Database } from './mysql-database.js';
import { MESSAGE_COLUMNS, MESSAGE_JOINS, type MessageRow, toMessage } from './mysql-message-rows.js';

interface PageRow extends RowDataPacket {
  conversation: string;
  last_id: number;
  read_up_to: number;
}

interface LastRow extends MessageRow {
  peer_name: string | null;
  peer_up_to: number | null;
}

/** Larger than any message id: "no upper bound" for the first page. */
const NO_BOUND = Number.MAX_SAFE_INTEGER;

/** The newest message id of a conversation: one backward step in `ix_message_conversation (conversation, id)`. */
const NEWEST_IN = (key: string) =>
  `(SELECT m.id FROM message m WHERE m.conversation = ${key} ORDER BY m.id DESC LIMIT 1)`;

/** A conversation key computed in SQL, typed like `message.conversation` so joins on it use the index. */
const asKey = (expression: string) => `CAST(${expression} AS CHAR(32) CHARACTER SET ascii) COLLATE ascii_bin`;

/**
 * Read markers (`read_marker`, sql/005) and the conversation list in MySQL.
 *
 * The list is two round trips whatever the user's number of friends: one query for the page, then the
 * page's last messages and its unread counts in parallel. The page query gathers the candidate keys —
 * friends (`friend` by primary key), groups (`ix_groupuser_user`), marked conversations (`read_marker` by
 * primary key) — and finds each one's newest message id by one backward step in `ix_message_conversation`
 * (EXPLAIN: DEPENDENT SUBQUERY, ref on the index, "Using index"; ANALYZE with 1000 friends, 30 groups and
 * 180k messages: r_rows 1 per candidate, ~3 ms for the page), then sorts the candidates (a filesort of
 * about a thousand rows) and takes the page. No per-user table is maintained on append, so sends cost
 * nothing more; the price is that every page looks at every candidate.
 */
export class MysqlReadStore implements ReadStore {
  constructor(private readonly db: Database) {}

  async markRead(userId: UserId, target: Target, messageId: number): Promise<number> {
    const key = conversationKey(userId, target);
    // Two reads, then a write only when the marker moves. Not INSERT … SELECT: in REPEATABLE READ that
    // would take a shared next-key lock at the end of the conversation's index range and hold up appends.
    const [state] = await this.db.execute<
      ({ newest: number | null; current: number | null } & RowDataPacket)[]
    >(
      `SELECT ${NEWEST_IN('?')} AS newest,
              (SELECT up_to FROM read_marker WHERE user_id = ? AND conversation = ?) AS current`,
      [key, userId, key],
    );
    const current = Number(state?.current ?? 0);
    const upTo = Math.min(messageId, Number(state?.newest ?? 0));
    if (!(upTo > current)) return current; // (also when messageId is not a number)
    await this.db.execute<ResultSetHeader>(
      `INSERT INTO read_marker (user_id, conversation, up_to) VALUES (?, ?, ?)
       ON DUPLICATE KEY UPDATE up_to = GREATEST(up_to, VALUES(up_to))`,
      [userId, key, upTo],
    );
    // Another device of the user may have moved it further meanwhile: answer with what is stored.
    const [after] = await this.db.execute<({ up_to: number } & RowDataPacket)[]>(
      'SELECT up_to FROM read_marker WHERE user_id = ? AND conversation = ?',
      [userId, key],
    );
    return Number(after?.up_to ?? upTo);
  }

  async listPair(a: UserId, b: UserId): Promise<void> {
    const key = conversationKey(a, { kind: 'user', id: b });
    // IGNORE: an existing marker (possibly ahead) stays as it is.
    await this.db.execute<ResultSetHeader>(
      'INSERT IGNORE INTO read_marker (user_id, conversation, up_to) VALUES (?, ?, 0), (?, ?, 0)',
      [a, key, b, key],
    );
  }

  async markers(userId: UserId, target: Target): Promise<ReadMarker[]> {
    const key = conversationKey(userId, target);
    // ix_read_marker_conversation covers both; a group's markers are its members' (by groupuser's key).
    const rows =
      target.kind === 'group'
        ? await this.db.execute<({ user_id: number; up_to: number } & RowDataPacket)[]>(
            `SELECT r.user_id, r.up_to FROM read_marker r
             JOIN groupuser g ON g.groupid = ? AND g.userid = r.user_id
             WHERE r.conversation = ? AND r.up_to > 0 ORDER BY r.user_id`,
            [target.id, key],
          )
        : await this.db.execute<({ user_id: number; up_to: number } & RowDataPacket)[]>(
            'SELECT user_id, up_to FROM read_marker WHERE conversation = ? AND up_to > 0 ORDER BY user_id',
            [key],
          );
    return rows.map((row) => ({ userId: row.user_id, upTo: Number(row.up_to) }));
  }

  async conversations(
    userId: UserId,
    beforeId: number | undefined,
    limit: number,
  ): Promise<ConversationPage> {
    // One level of derived table, filtered by HAVING: with the newest-id subquery one level further down
    // (a derived table filtered by WHERE), MariaDB 10.11 fails the prepared statement ("Unknown column").
    const page = await this.db.execute<PageRow[]>(
      `SELECT c.conversation, ${NEWEST_IN('c.conversation')} AS last_id, COALESCE(r.up_to, 0) AS read_up_to
       FROM (
         SELECT ${asKey("CONCAT('u:', LEAST(f.userid, f.friendid), ':', GREATEST(f.userid, f.friendid))")} AS conversation
           FROM friend f WHERE f.userid = ?
         UNION SELECT ${asKey("CONCAT('g:', g.groupid)")} FROM groupuser g WHERE g.userid = ?
         UNION SELECT r.conversation FROM read_marker r WHERE r.user_id = ?
       ) c
       LEFT JOIN read_marker r ON r.user_id = ? AND r.conversation = c.conversation
       HAVING last_id < ?
       ORDER BY last_id DESC
       LIMIT ?`,
      [userId, userId, userId, userId, beforeId ?? NO_BOUND, String(limit + 1)],
    );
    const items = page.slice(0, limit);
    if (items.length === 0) return { items: [], more: false };
    const [lasts, unread] = await Promise.all([this.lastMessages(userId, items), this.unread(userId, items)]);
    return {
      items: items.map((row, i): ConversationSummary => {
        const last = lasts.get(Number(row.last_id))!;
        const message = toMessage(last);
        const target = targetOfKey(userId, row.conversation);
        return {
          target,
          name: target.kind === 'group' ? (last.groupname ?? '') : (last.peer_name ?? ''),
          last: message,
          readUpTo: Number(row.read_up_to),
          unread: unread[i]!,
          peerReadUpTo: target.kind === 'user' ? Number(last.peer_up_to ?? 0) : undefined,
        };
      }),
      more: page.length > limit,
    };
  }

  /** The page's last messages by primary key, with the peer's name and read marker for 1:1s. */
  private async lastMessages(userId: UserId, items: readonly PageRow[]): Promise<Map<number, LastRow>> {
    const ids = items.map((row) => Number(row.last_id));
    const rows = await this.db.query<LastRow[]>(
      `SELECT ${MESSAGE_COLUMNS}, pu.name AS peer_name, pr.up_to AS peer_up_to
       FROM message m ${MESSAGE_JOINS}
       LEFT JOIN user pu ON m.group_id IS NULL AND pu.id = IF(m.sender_id = ?, m.to_user_id, m.sender_id)
       LEFT JOIN read_marker pr ON pr.user_id = pu.id AND pr.conversation = m.conversation
       WHERE m.id IN (${ids.map(() => '?').join(',')})`,
      [userId, ...ids],
    );
    return new Map(rows.map((row) => [Number(row.id), row]));
  }

  /**
   * Unread counts of the page, one statement: per conversation, the messages from others after the
   * marker, counted up to UNREAD_COUNT_CAP (a range of `ix_message_conversation` that stops at the cap).
   */
  private async unread(userId: UserId, items: readonly PageRow[]): Promise<number[]> {
    const parts = items.map(
      (_, i) =>
        `SELECT ${i} AS k, COUNT(*) AS n FROM (SELECT 1 FROM message WHERE conversation = ? AND id > ? AND sender_id <> ?
         ORDER BY id LIMIT ${UNREAD_COUNT_CAP}) t${i}`,
    );
    const rows = await this.db.query<({ k: number; n: number } & RowDataPacket)[]>(
      parts.join(' UNION ALL '),
      items.flatMap((row) => [row.conversation, Number(row.read_up_to), userId]),
    );
    const counts = new Array<number>(items.length).fill(0);
    for (const row of rows) counts[Number(row.k)] = Number(row.n);
    return counts;
  }
}
