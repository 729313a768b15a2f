import type {
  AppendResult,
  DeviceCursor,
  DeviceId,
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
import { DEFAULT_ACK_FLUSH_MS, MysqlAckWriter } from './mysql-ack-writer.js';
import { MysqlAppendWriter } from './mysql-append-sql.js';
import type { Database } from './mysql-database.js';
import { MysqlDevices } from './mysql-devices.js';
import { MysqlInboxPruner } from './mysql-inbox-pruner.js';
import { MysqlMessageReads } from './mysql-message-reads.js';
import { MysqlNameCache } from './mysql-name-cache.js';

/** Batching and queue limits of the MySQL message store (see AppendBatchLimits for each default). */
export type MessageStoreTuning = AppendBatchLimits & {
  /** Least time between two ack writes of a node while acks keep coming (ACK_FLUSH_MS). @default 50 */
  readonly ackFlushMs: number;
};

/** DEVICE_RETENTION_DAYS' default (30 days), for callers that do not configure it. */
export const DEFAULT_DEVICE_RETENTION_MS = 30 * 86_400_000;

/**
 * Messages, per-user inboxes and cursors in MySQL: the `MessageStore` port over parts with one job each.
 * Appends go through the group-commit batcher (append-batcher.ts) into one multi-statement transaction per
 * batch (mysql-append-sql.ts); devices open sessions through mysql-devices.ts; acks of the whole node are
 * coalesced (mysql-ack-writer.ts), and shortly after, the floors of the users who acked are raised and the
 * rows below them pruned (mysql-inbox-pruner.ts); reads are plain queries (mysql-message-reads.ts).
 */
export class MysqlMessageStore implements MessageStore {
  private readonly reads: MysqlMessageReads;
  private readonly appends: AppendBatcher;
  private readonly acks: MysqlAckWriter;
  private readonly pruner: MysqlInboxPruner;
  private readonly devices: MysqlDevices;

  /** `deviceRetentionMs`: how long an idle device holds back pruning (DEVICE_RETENTION_DAYS). */
  constructor(
    db: Database,
    clock: Clock,
    tuning: Partial<MessageStoreTuning> = {},
    deviceRetentionMs: number = DEFAULT_DEVICE_RETENTION_MS,
  ) {
    this.reads = new MysqlMessageReads(db);
    this.appends = new AppendBatcher(
      new MysqlAppendWriter(db, clock, new MysqlNameCache(), this.reads),
      tuning,
    );
    this.pruner = new MysqlInboxPruner(db, clock, deviceRetentionMs);
    this.acks = new MysqlAckWriter(
      db,
      clock,
      (userIds) => this.pruner.mark(userIds),
      tuning.ackFlushMs ?? DEFAULT_ACK_FLUSH_MS,
    );
    this.devices = new MysqlDevices(db, clock, deviceRetentionMs, this.acks);
  }

  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    return this.appends.append(draft, recipients);
  }

  readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    return this.reads.readInbox(userId, afterSeq, limit);
  }

  openDevice(userId: UserId, device: DeviceId): Promise<DeviceCursor> {
    return this.devices.open(userId, device);
  }

  cursor(userId: UserId, device: DeviceId): Promise<InboxCursor> {
    return this.devices.cursor(userId, device);
  }

  /** Coalesced with the acks of every session of this node; resolves once the ack is written. */
  ack(userId: UserId, device: DeviceId, seq: number): Promise<void> {
    return this.acks.ack(userId, device, seq);
  }

  bumpDeviceEpoch(userId: UserId, device: DeviceId): Promise<number> {
    return this.devices.bumpEpoch(userId, device);
  }

  history(query: HistoryQuery): Promise<StoredMessage[]> {
    return this.reads.history(query);
  }

  /** Raises the floors of recently acked users and prunes below them now instead of after the usual delay. */
  pruneAcked(): Promise<void> {
    return this.pruner.pruneAcked();
  }

  /** Reports every append batch written to `telemetry`. */
  observe(telemetry: Telemetry): void {
    this.appends.observe(telemetry);
  }

  /**
   * Stops pruning (rows not yet pruned stay until their users ack again) and writes the acks still
   * waiting for ACK_FLUSH_MS; resolves once they are stored, so the pool may close after it.
   */
  async stop(): Promise<void> {
    this.pruner.stop();
    await this.acks.close();
  }
}
