import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { AppError } from '../errors.js';
import { conversationKey } from '../service/conversation.js';
import type {
  AppendResult,
  Clock,
  Delivery,
  HistoryQuery,
  InboxCursor,
  InboxEntry,
  MessageDraft,
  MessageStore,
  StoredMessage,
  UserId,
} from '../service/ports.js';
import { type Database, isDuplicate } from './mysql-database.js';

interface MessageRow extends RowDataPacket {
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

interface InboxRow extends MessageRow {
  seq: number;
}

const MESSAGE_COLUMNS = `m.id, m.sender_id, u.name AS sender_name, m.to_user_id, m.group_id, g.groupname,
  m.body, m.client_time, m.cmid, m.created_at`;
const MESSAGE_JOINS = 'JOIN user u ON u.id = m.sender_id LEFT JOIN allgroup g ON g.id = m.group_id';

/** Rows per multi-row INSERT (placeholders stay far below MySQL's 65,535). */
const CHUNK = 1000;
/** InnoDB may pick a fan-out transaction as a deadlock victim; it is retried this many times. */
const DEADLOCK_RETRIES = 5;

function toMessage(row: MessageRow): StoredMessage {
  const isGroup = row.group_id !== null;
  return {
    id: Number(row.id),
    senderId: row.sender_id,
    senderName: row.sender_name,
    target: isGroup ? { kind: 'group', id: row.group_id! } : { kind: 'user', id: row.to_user_id! },
    ...(isGroup ? { groupName: row.groupname ?? '' } : {}),
    body: row.body,
    clientTime: row.client_time,
    cmid: row.cmid,
    createdAt: Number(row.created_at),
  };
}

/**
 * Messages, per-user inboxes and cursors in MySQL. An append is one transaction: insert the message,
 * bump every recipient's counter row (locked in id order, so concurrent senders on any node serialise per
 * recipient and sequences stay gap-free), insert the inbox rows in multi-row statements, commit.
 */
export class MysqlMessageStore implements MessageStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction((connection) => this.appendIn(connection, draft, recipients));
      } catch (error) {
        if (draft.cmid !== null && isDuplicate(error, 'uq_message_cmid'))
          return this.existing(draft.senderId, draft.cmid);
        const deadlock = (error as { code?: string } | null)?.code === 'ER_LOCK_DEADLOCK';
        if (!deadlock || attempt >= DEADLOCK_RETRIES) throw error;
      }
    }
  }

  async readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    const rows = await this.db.execute<InboxRow[]>(
      `SELECT i.seq, ${MESSAGE_COLUMNS} FROM inbox i JOIN message m ON m.id = i.message_id ${MESSAGE_JOINS}
       WHERE i.user_id = ? AND i.seq > ? ORDER BY i.seq LIMIT ?`,
      [userId, afterSeq, String(limit)],
    );
    return rows.map((row) => ({ seq: Number(row.seq), message: toMessage(row) }));
  }

  async cursor(userId: UserId): Promise<InboxCursor> {
    const rows = await this.db.execute<{ last_seq: number; acked_seq: number }[]>(
      'SELECT last_seq, acked_seq FROM inbox_cursor WHERE user_id = ?',
      [userId],
    );
    const row = rows[0];
    return { ackedSeq: Number(row?.acked_seq ?? 0), lastSeq: Number(row?.last_seq ?? 0) };
  }

  async ack(userId: UserId, seq: number): Promise<void> {
    await this.db.execute(
      'UPDATE inbox_cursor SET acked_seq = GREATEST(acked_seq, LEAST(?, last_seq)) WHERE user_id = ?',
      [seq, userId],
    );
  }

  async history(query: HistoryQuery): Promise<StoredMessage[]> {
    const key = conversationKey(query.userId, query.target);
    const rows =
      query.beforeId === undefined
        ? await this.db.execute<MessageRow[]>(
            `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS} WHERE m.conversation = ? ORDER BY m.id DESC LIMIT ?`,
            [key, String(query.limit)],
          )
        : await this.db.execute<MessageRow[]>(
            `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS}
             WHERE m.conversation = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`,
            [key, query.beforeId, String(query.limit)],
          );
    return rows.map(toMessage);
  }

  private async appendIn(
    connection: Connection,
    draft: MessageDraft,
    recipients: readonly UserId[],
  ): Promise<AppendResult> {
    const target = draft.target;
    const [inserted] = await connection.execute<ResultSetHeader>(
      `INSERT INTO message (sender_id, to_user_id, group_id, conversation, body, client_time, cmid, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        draft.senderId,
        target.kind === 'user' ? target.id : null,
        target.kind === 'group' ? target.id : null,
        conversationKey(draft.senderId, target),
        draft.body,
        draft.clientTime,
        draft.cmid,
        this.clock.now(),
      ],
    );
    const messageId = inserted.insertId;
    const deliveries = await this.allocate(connection, messageId, recipients);
    const [rows] = await connection.execute<MessageRow[]>(
      `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS} WHERE m.id = ?`,
      [messageId],
    );
    if (!rows[0]) throw new AppError('USER_NOT_FOUND', 'sender does not exist');
    return { message: toMessage(rows[0]), deliveries, duplicate: false };
  }

  /** Gives each recipient its next sequence number and writes the inbox rows. */
  private async allocate(
    connection: Connection,
    messageId: number,
    recipients: readonly UserId[],
  ): Promise<Delivery[]> {
    const users = [...new Set(recipients)].sort((a, b) => a - b);
    const deliveries: Delivery[] = [];
    for (let i = 0; i < users.length; i += CHUNK) {
      const chunk = users.slice(i, i + CHUNK);
      const marks = chunk.map(() => '?').join(',');
      await connection.execute(
        `INSERT INTO inbox_cursor (user_id, last_seq) VALUES ${chunk.map(() => '(?, 1)').join(',')}
         ON DUPLICATE KEY UPDATE last_seq = last_seq + 1`,
        chunk,
      );
      const [seqs] = await connection.execute<{ user_id: number; last_seq: number }[] & RowDataPacket[]>(
        `SELECT user_id, last_seq FROM inbox_cursor WHERE user_id IN (${marks})`,
        chunk,
      );
      await connection.execute(
        `INSERT INTO inbox (user_id, seq, message_id) VALUES ${seqs.map(() => '(?, ?, ?)').join(',')}`,
        seqs.flatMap((row) => [row.user_id, row.last_seq, messageId]),
      );
      for (const row of seqs) deliveries.push({ userId: row.user_id, seq: Number(row.last_seq) });
    }
    return deliveries;
  }

  private async existing(senderId: UserId, cmid: string): Promise<AppendResult> {
    const rows = await this.db.execute<MessageRow[]>(
      `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS} WHERE m.sender_id = ? AND m.cmid = ?`,
      [senderId, cmid],
    );
    if (!rows[0]) throw new AppError('UNAVAILABLE', 'duplicate send vanished; retry');
    return { message: toMessage(rows[0]), deliveries: [], duplicate: true };
  }
}
