import type { UserId } from '../service/ports.js';
import type { Database } from './mysql-database.js';
import { byUserId, CHUNK, userSeqPairs } from './mysql-message-rows.js';

interface PendingAck {
  seq: number;
  readonly waiters: { readonly resolve: () => void; readonly reject: (error: unknown) => void }[];
}

/**
 * Node-wide ack writer: acks from every session of this node are coalesced into one UPDATE (and one
 * commit) per flush instead of one per client ack. One flush runs at a time; acks arriving meanwhile
 * wait for the next one, where a user's acks collapse into the highest.
 */
export class MysqlAckWriter {
  /** At most one entry per user, so this is bounded by the users with sessions on this node. */
  private readonly pending = new Map<UserId, PendingAck>();
  private flushing = false;

  /** `onWritten` learns the users whose acks were stored (their acked inbox rows may now be pruned). */
  constructor(
    private readonly db: Database,
    private readonly onWritten: (userIds: readonly UserId[]) => void,
  ) {}

  /** Moves the user's acked cursor to min(seq, last_seq), never back; resolves once written. */
  ack(userId: UserId, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(userId);
      if (entry) {
        entry.seq = Math.max(entry.seq, seq);
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(userId, { seq, waiters: [{ resolve, reject }] });
      }
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, CHUNK);
        for (const [userId] of batch) this.pending.delete(userId);
        try {
          await this.db.query(
            `UPDATE ${userSeqPairs('?')} a STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = a.user_id
             SET c.acked_seq = GREATEST(c.acked_seq, LEAST(c.last_seq, a.seq))`,
            // In user id order: the join locks the cursor rows in array order, and appends lock them in
            // user id order too (sql/004) — any other order deadlocks against concurrent appends.
            [JSON.stringify(batch.map(([userId, entry]) => [userId, entry.seq]).sort(byUserId))],
          );
          for (const [, entry] of batch) for (const waiter of entry.waiters) waiter.resolve();
          this.onWritten(batch.map(([userId]) => userId));
        } catch (error) {
          for (const [, entry] of batch) for (const waiter of entry.waiters) waiter.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
