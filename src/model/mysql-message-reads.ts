import { AppError } from '../errors.js';
import { conversationKey } from '../service/conversation.js';
import type { AppendResult, HistoryQuery, InboxEntry, StoredMessage, UserId } from '../service/ports.js';
import type { Database } from './mysql-database.js';
import {
  type InboxRow,
  MESSAGE_COLUMNS,
  MESSAGE_JOINS,
  type MessageRow,
  toMessage,
} from './mysql-message-rows.js';

/** The read side of the MySQL message store: inbox pages, history, and a resend's stored message. */
export class MysqlMessageReads {
  constructor(private readonly db: Database) {}

  /** Inbox entries after `afterSeq`, ascending: one range scan of the recipient-clustered inbox. */
  async readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    const rows = await this.db.execute<InboxRow[]>(
      `SELECT i.seq, ${MESSAGE_COLUMNS} FROM inbox i JOIN message m ON m.id = i.message_id ${MESSAGE_JOINS}
       WHERE i.user_id = ? AND i.seq > ? ORDER BY i.seq LIMIT ?`,
      [userId, afterSeq, String(limit)],
    );
    return rows.map((row) => ({ seq: Number(row.seq), message: toMessage(row) }));
  }

  /** A conversation's messages, newest first, from the message table (pruned inbox rows do not shorten it). */
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

  /** The answer to a resend: the message already stored under (sender, cmid), marked duplicate. */
  async resent(senderId: UserId, cmid: string): Promise<AppendResult> {
    const rows = await this.db.execute<MessageRow[]>(
      `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS} WHERE m.sender_id = ? AND m.cmid = ?`,
      [senderId, cmid],
    );
    if (!rows[0]) throw new AppError('UNAVAILABLE', 'duplicate send vanished; retry');
    return { message: toMessage(rows[0]), deliveries: [], duplicate: true };
  }
}
