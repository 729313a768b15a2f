import type { RowDataPacket } from 'mysql2/promise';
import type { UserId } from '../service/ports.js';
import type { Database } from './mysql-database.js';
import { byUserId, CHUNK, userSeqPairs } from './mysql-message-rows.js';

/** Delay between an ack and the pruning of the inbox rows it covers (acks of that time share one DELETE). */
const PRUNE_DELAY_MS = 1000;

/**
 * Deletes the inbox rows of recently acked users below their acked cursor: once acked, a row is never
 * read again (replay starts after the acked sequence, and history reads the message table), so the inbox
 * holds only what is still owed. Best effort: a failed prune leaves rows that the user's next ack covers.
 */
export class MysqlInboxPruner {
  /** Users whose acked inbox rows can go (their acks are written); pruned together after PRUNE_DELAY_MS. */
  private readonly prunable = new Set<UserId>();
  private timer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly db: Database) {}

  /** Marks users whose acks were written; their rows are pruned about PRUNE_DELAY_MS later. */
  mark(userIds: readonly UserId[]): void {
    for (const userId of userIds) this.prunable.add(userId);
    this.schedule();
  }

  /**
   * Prunes every marked user now (one run at a time; a call during a run joins it). The bound is the
   * stored cursor, never the ack the client claimed: the stored one is clamped to the last committed
   * sequence, so no undelivered row can be removed. The acked row itself stays, so each range ends on a
   * committed row that no append holds (with `<=` it would end on the next row, often one an append is
   * still inserting, and the delete would wait for it). READ COMMITTED, so the range delete takes no gap
   * locks that could hold up appends to the same inboxes.
   */
  pruneAcked(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pruning ??= this.prune().finally(() => {
      this.pruning = undefined;
      this.schedule();
    });
    return this.pruning;
  }

  /** Stops pruning; rows not yet pruned stay until their users ack again. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.pruning || this.prunable.size === 0) return;
    this.timer = setTimeout(() => void this.pruneAcked(), PRUNE_DELAY_MS);
    this.timer.unref();
  }

  private async prune(): Promise<void> {
    while (this.prunable.size > 0) {
      const users = [...this.prunable].slice(0, CHUNK);
      for (const user of users) this.prunable.delete(user);
      try {
        await this.db.withConnection(async (connection) => {
          const [cursors] = await connection.query<
            ({ user_id: number; acked_seq: number } & RowDataPacket)[]
          >(
            `SELECT user_id, acked_seq FROM inbox_cursor WHERE user_id IN (${users.map(() => '?').join(',')}) AND acked_seq > 0`,
            users,
          );
          if (cursors.length === 0) return;
          await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
          await connection.query(
            // Not `i.user_id = a.user_id`: that reads all of a user's rows by ref, on past the acked one into
            // rows appends may still be inserting (and would wait for them). Written as a range, MariaDB
            // ranges per user ("range checked for each record") and stops below the acked row.
            `DELETE i FROM ${userSeqPairs('?')} a
             STRAIGHT_JOIN inbox i FORCE INDEX (PRIMARY) ON i.user_id >= a.user_id AND i.user_id <= a.user_id AND i.seq < a.seq`,
            [JSON.stringify(cursors.map((row) => [row.user_id, Number(row.acked_seq)]).sort(byUserId))],
          );
        });
      } catch {
        // Best effort (see above); the database being away is reported by the requests that need it.
      }
    }
  }
}
