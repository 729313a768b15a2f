import type { RowDataPacket } from 'mysql2/promise';
import type { StoredMessage } from '../service/ports.js';
import { storedMessage } from '../service/ports.js';

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
