import type { RowDataPacket } from 'mysql2/promise';
import { conversationKey } from '../service/conversation.js';
import type { StoredMessage, UserId } from '../service/ports.js';
import { storedMessage } from '../service/ports.js';
import type { AppendRequest } from './append-batcher.js';

/** A `message` row joined with its sender's and group's names (MESSAGE_COLUMNS). */
export interface MessageRow extends RowDataPacket {
  id: number;
  sender_id: number;
  sender_name: string;
  to_user_id: number | null;
  group_id: number | null;
  groupname: string | null;
  body: string;
  client_time: string;
  cmid: string | null;
  created_at: number;
}

/** A MessageRow with its inbox position. */
export interface InboxRow extends MessageRow {
  seq: number;
}

/** The columns a MessageRow reads, over `message m` and MESSAGE_JOINS. */
export const MESSAGE_COLUMNS = `m.id, m.sender_id, u.name AS sender_name, m.to_user_id, m.group_id, g.groupname,
  m.body, m.client_time, m.cmid, m.created_at`;
/** The joins MESSAGE_COLUMNS needs: the sender's name, and the group's for group messages. */
export const MESSAGE_JOINS = 'JOIN user u ON u.id = m.sender_id LEFT JOIN allgroup g ON g.id = m.group_id';

/** Users per multi-row statement or IN list (placeholders stay far below MySQL's 65,535). */
export const CHUNK = 1000;

/**
 * A JSON array of `[userId, seq]` pairs as a table (`user_id`, `seq`) to join against, so that an
 * UPDATE or DELETE over many users is one short statement with one parameter. The alternatives cost
 * MariaDB far more per row: `CASE user_id WHEN … THEN …` and `(user_id = ? AND seq < ?) OR …` are
 * searched linearly for every row they touch, and long lists make long statements to parse.
 * Joined pairs first (STRAIGHT_JOIN) and by primary key (FORCE INDEX, or a range per pair): a scan of
 * the other table — the optimizer's choice while it is small — would lock every row it reads and
 * deadlock with concurrent appends (sql/004 has the same fix for the append procedure).
 */
export function userSeqPairs(json: string): string {
  return `JSON_TABLE(${json}, '$[*]' COLUMNS (user_id INT PATH '$[0]', seq BIGINT PATH '$[1]'))`;
}

/** Orders `[userId, seq]` pairs by user id: the order every writer locks per-user rows in. */
export const byUserId = (a: readonly number[], b: readonly number[]): number => a[0]! - b[0]!;

/** The port's StoredMessage for a row (row types never leave `model/`). */
export function toMessage(row: MessageRow): StoredMessage {
  const isGroup = row.group_id !== null;
  return storedMessage(
    {
      senderId: row.sender_id,
      target: isGroup ? { kind: 'group', id: row.group_id! } : { kind: 'user', id: row.to_user_id! },
      body: row.body,
      clientTime: row.client_time,
      cmid: row.cmid,
    },
    Number(row.id),
    row.sender_name,
    isGroup ? (row.groupname ?? '') : undefined,
    Number(row.created_at),
  );
}

/**
 * Where message ids come from. 'auto-increment': the message table's AUTO_INCREMENT, relying on a multi-row
 * `INSERT … VALUES` getting consecutive ids (first, first + 1, …) — documented for
 * `innodb_autoinc_lock_mode` 0 and 1 (the whole range is reserved under the AUTO-INC lock or mutex before
 * the first row), and only with `auto_increment_increment` 1. 'sequence': anything else (MySQL 8's default
 * mode 2, "interleaved", documents no such promise; Galera runs in it with a step above 1), where ids are
 * reserved from the one-row `message_id_seq` (sql/002) as before.
 */
export type IdSource = 'auto-increment' | 'sequence';

/** The id source a server with these settings allows. */
export function idSourceOf(autoincLockMode: number, autoIncrementIncrement: number): IdSource {
  return (autoincLockMode === 0 || autoincLockMode === 1) && autoIncrementIncrement === 1
    ? 'auto-increment'
    : 'sequence';
}

/** One batch as SQL text with its parameters, and where its results are. */
export interface AppendStatements {
  readonly sql: string;
  readonly params: (string | number | null)[];
  /** Each append's distinct recipients, in the order their deliveries are numbered. */
  readonly recipients: readonly (readonly UserId[])[];
  /** The index of the message INSERT's result (its insertId is the first message's id). */
  readonly messagesAt: number;
  /** The index of the counters read back (user_id, last_seq), when the batch has recipients. */
  readonly cursorsAt: number | undefined;
}

const MESSAGE_ROW = '(?,?,?,?,?,?,?,?)';

/**
 * A batch of appends as one multi-statement round trip, in one transaction:
 *
 *     START TRANSACTION;
 *     INSERT INTO message (…) VALUES (…), (…), …;              -- ids first, first + 1, … in batch order
 *     INSERT INTO inbox_cursor (user_id, last_seq) VALUES (user, its count in the batch), …  -- user id order
 *       ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq);
 *     INSERT INTO inbox (user_id, seq, message_id) VALUES
 *       (user, (SELECT last_seq FROM inbox_cursor WHERE user_id = user) - back, LAST_INSERT_ID() + k), …;
 *     SELECT user_id, last_seq FROM inbox_cursor WHERE user_id IN (…);
 *     COMMIT
 *
 * A recipient's rows are numbered last_seq - count + 1 … last_seq in batch order (`back` counts the rows of
 * that user after this one), exactly as `MysqlAppendWriter` numbers the deliveries from the counters read
 * back. The counter upsert locks the rows in user-id order — the order the ack writer locks them in too —
 * so concurrent batches on any node serialise per recipient without deadlocking; the inbox subqueries read
 * rows this transaction already holds. `LAST_INSERT_ID()` is the message INSERT's first id (neither later
 * table has an AUTO_INCREMENT column). Values travel as escaped parameters (the text protocol: a prepared
 * statement per batch size would exhaust `max_prepared_stmt_count`).
 */
export function appendStatements(items: readonly AppendRequest[], now: number): AppendStatements {
  const params: (string | number | null)[] = [];
  const recipients = items.map((item) => [...new Set(item.recipients)]);
  for (const { draft } of items)
    params.push(
      draft.senderId,
      draft.target.kind === 'user' ? draft.target.id : null,
      draft.target.kind === 'group' ? draft.target.id : null,
      conversationKey(draft.senderId, draft.target),
      draft.body,
      draft.clientTime,
      draft.cmid,
      now,
    );
  const statements = [
    'START TRANSACTION',
    `INSERT INTO message (sender_id, to_user_id, group_id, conversation, body, client_time, cmid, created_at) VALUES ${rowsOf(MESSAGE_ROW, items.length)}`,
  ];
  // Each recipient's appends (indexes into the batch), recipients in user-id order.
  const perUser = new Map<UserId, number[]>();
  recipients.forEach((users, k) => {
    for (const user of users) {
      const list = perUser.get(user);
      if (list) list.push(k);
      else perUser.set(user, [k]);
    }
  });
  if (perUser.size === 0) {
    statements.push('COMMIT');
    return { sql: statements.join(';\n'), params, recipients, messagesAt: 1, cursorsAt: undefined };
  }
  const users = [...perUser.keys()].sort((a, b) => a - b);
  for (const user of users) params.push(user, perUser.get(user)!.length);
  statements.push(
    `INSERT INTO inbox_cursor (user_id, last_seq) VALUES ${rowsOf('(?,?)', users.length)}
     ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq)`,
  );
  // [user, rows of this user after this one, index in the batch] per inbox row, in (user, seq) order.
  const rows: number[][] = [];
  for (const user of users) {
    const ks = perUser.get(user)!;
    ks.forEach((k, n) => rows.push([user, ks.length - 1 - n, k]));
  }
  params.push(JSON.stringify(rows));
  statements.push(
    `INSERT INTO inbox (user_id, seq, message_id)
     SELECT c.user_id, c.last_seq - r.back, LAST_INSERT_ID() + r.k
     FROM JSON_TABLE(?, '$[*]' COLUMNS (user_id INT PATH '$[0]', back INT PATH '$[1]', k INT PATH '$[2]')) AS r
     STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = r.user_id`,
  );
  params.push(...users);
  statements.push(
    `SELECT user_id, last_seq FROM inbox_cursor WHERE user_id IN (${users.map(() => '?').join(',')})`,
  );
  statements.push('COMMIT');
  return { sql: statements.join(';\n'), params, recipients, messagesAt: 1, cursorsAt: 4 };
}

/** `count` copies of `row`, comma-separated. */
function rowsOf(row: string, count: number): string {
  return Array.from({ length: count }, () => row).join(',');
}
