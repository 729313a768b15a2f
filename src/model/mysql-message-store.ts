import type {
  AppendResult,
  HistoryQuery,
  InboxCursor,
  InboxEntry,
  MessageDraft,
  MessageStore,
  StoredMessage,
  UserId,
} from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { Telemetry } from '../service/telemetry.js';
import { type AppendBatchLimits, AppendBatcher } from './append-batcher.js';
import { MysqlAckWriter } from './mysql-ack-writer.js';
import { MysqlAppendWriter } from './mysql-append-sql.js';
import type { Database } from './mysql-database.js';
import { MysqlInboxPruner } from './mysql-inbox-pruner.js';
import { MysqlMessageReads } from './mysql-message-reads.js';
import { MysqlNameCache } from './mysql-name-cache.js';

/** Batching and queue limits of the MySQL message store (see AppendBatchLimits for each default). */
export type MessageStoreTuning = AppendBatchLimits;

/**
 * Messages, per-user inboxes and cursors in MySQL: the `MessageStore` port over parts with one job each.
 * Appends go through the group-commit batcher (append-batcher.ts) into one multi-statement transaction per
 * batch (mysql-append-sql.ts); acks of the whole node are coalesced (mysql-ack-writer.ts) and the rows they
 * cover pruned shortly after (mysql-inbox-pruner.ts); reads are plain queries (mysql-message-reads.ts).
 */
export class MysqlMessageStore implements MessageStore {
  private readonly reads: MysqlMessageReads;
  private readonly appends: AppendBatcher;
  private readonly acks: MysqlAckWriter;
  private readonly pruner: MysqlInboxPruner;

  constructor(db: Database, clock: Clock, tuning: Partial<MessageStoreTuning> = {}) {
    this.reads = new MysqlMessageReads(db);
    this.appends = new AppendBatcher(
      new MysqlAppendWriter(db, clock, new MysqlNameCache(), this.reads),
      tuning,
    );
    this.pruner = new MysqlInboxPruner(db);
    this.acks = new MysqlAckWriter(db, (userIds) => this.pruner.mark(userIds));
  }

  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    return this.appends.append(draft, recipients);
  }

  readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    return this.reads.readInbox(userId, afterSeq, limit);
  }

  cursor(userId: UserId): Promise<InboxCursor> {
    return this.reads.cursor(userId);
  }

  /** Coalesced with the acks of every session of this node; resolves once the ack is written. */
  ack(userId: UserId, seq: number): Promise<void> {
    return this.acks.ack(userId, seq);
  }

  history(query: HistoryQuery): Promise<StoredMessage[]> {
    return this.reads.history(query);
  }

  /** Prunes the acked inbox rows of recently acked users now instead of after the usual delay. */
  pruneAcked(): Promise<void> {
    return this.pruner.pruneAcked();
  }

  /** Reports every append batch written to `telemetry`. */
  observe(telemetry: Telemetry): void {
    this.appends.observe(telemetry);
  }

  /** Stops pruning; rows not yet pruned stay until their users ack again. */
  stop(): void {
    this.pruner.stop();
  }
}
