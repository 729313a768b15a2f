import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { UserId } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { Database } from './mysql-database.js';
import { PRUNE_GRACE_MS } from './mysql-device-rows.js';
import { byUserId, CHUNK, userSeqPairs } from './mysql-message-rows.js';

/** Delay between an ack and the pruning of the inbox rows it covers (acks of that time share one round). */
const PRUNE_DELAY_MS = 1000;

interface FloorRow extends RowDataPacket {
  user_id: number;
  floor_seq: number;
  device_gen: number;
  /** The lowest acked position of the devices active within the window; null when none is. */
  lowest: number | null;
}

/**
 * Raises the floors of recently acked users and deletes their inbox rows below them: once every device
 * active within the retention window acked a row, it is never read again (replay starts after a device's
 * acked position, a device joining starts at the floor, and history reads the message table), so the
 * inbox holds only what is still owed to some device. Best effort: a failed round leaves rows that the
 * user's next ack covers.
 */
export class MysqlInboxPruner {
  /** Users whose acks were written (their floor may rise); pruned together after PRUNE_DELAY_MS. */
  private readonly prunable = new Set<UserId>();
  private timer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly deviceRetentionMs: number,
  ) {}

  /** Marks users whose acks were written; their rows are pruned about PRUNE_DELAY_MS later. */
  mark(userIds: readonly UserId[]): void {
    for (const userId of userIds) this.prunable.add(userId);
    this.schedule();
  }

  /**
   * Prunes every marked user now (one run at a time; a call during a run joins it). Per chunk of users,
   * three statements whatever their number:
   *
   * 1. One consistent read of each user's floor, `device_gen` and the lowest acked position of their
   *    devices active within the window (plus PRUNE_GRACE_MS). A user with no active device gets none:
   *    their floor stays, so a user away for months keeps everything.
   * 2. One UPDATE raising the floors that can rise, each only if `device_gen` is unchanged since the read:
   *    a device joining meanwhile (mysql-devices.ts) bumps it in the transaction that inserts the device
   *    at the old floor, so a floor computed without it is not stored. Cursor rows are locked by primary
   *    key in user id order, as appends lock them. The floor never exceeds last_seq (acks are clamped).
   * 3. One DELETE of the rows below each user's floor: one range per user, at READ COMMITTED, so it takes
   *    no gap locks that could hold up appends to the same inboxes. The floor row itself stays, so each
   *    range ends on a committed row that no append holds (with `<=` it would end on the next row, often
   *    one an append is still inserting, and the delete would wait for it). The bound is a stored floor:
   *    the raised one when every raise of step 2 took, else the one read in step 1 (never above the
   *    stored one), and the next round deletes the rest.
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
          const cutoff = this.clock.now() - this.deviceRetentionMs - PRUNE_GRACE_MS;
          // Index-backed: the cursors by primary key, each user's devices by the primary key's prefix.
          const [rows] = await connection.query<FloorRow[]>(
            `SELECT c.user_id, c.acked_seq AS floor_seq, c.device_gen, MIN(d.acked_seq) AS lowest
             FROM inbox_cursor c LEFT JOIN inbox_device d ON d.user_id = c.user_id AND d.active_at > ?
             WHERE c.user_id IN (${users.map(() => '?').join(',')})
             GROUP BY c.user_id, c.acked_seq, c.device_gen`,
            [cutoff, ...users],
          );
          const floors = new Map(rows.map((row) => [row.user_id, Number(row.floor_seq)]));
          const raises = rows
            .filter((row) => row.lowest !== null && Number(row.lowest) > Number(row.floor_seq))
            .map((row) => [row.user_id, Number(row.lowest), row.device_gen] as const)
            .sort(byUserId);
          if (raises.length > 0) {
            const [result] = await connection.query<ResultSetHeader>(
              `UPDATE JSON_TABLE(?, '$[*]' COLUMNS (user_id INT PATH '$[0]', floor_seq BIGINT PATH '$[1]',
                 device_gen INT PATH '$[2]')) a
               STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = a.user_id
               SET c.acked_seq = GREATEST(c.acked_seq, a.floor_seq)
               WHERE c.device_gen = a.device_gen`,
              [JSON.stringify(raises)],
            );
            // affectedRows counts matched rows (mysql2 sets CLIENT_FOUND_ROWS): each matched row's floor is
            // now at least the raised one. When some did not match (a device joined), the floors read in
            // step 1 are the safe bound this round.
            if (result.affectedRows === raises.length)
              for (const [userId, floor] of raises) floors.set(userId, floor);
          }
          const bounds = [...floors].filter(([, floor]) => floor > 1).sort(byUserId);
          if (bounds.length === 0) return;
          await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
          await connection.query(
            // Not `i.user_id = a.user_id`: that reads all of a user's rows by ref, on past the floor row into
            // rows appends may still be inserting (and would wait for them). Written as a range, MariaDB
            // ranges per user ("range checked for each record") and stops below the floor row.
            `DELETE i FROM ${userSeqPairs('?')} a
             STRAIGHT_JOIN inbox i FORCE INDEX (PRIMARY) ON i.user_id >= a.user_id AND i.user_id <= a.user_id AND i.seq < a.seq`,
            [JSON.stringify(bounds)],
          );
        });
      } catch {
        // Best effort (see above); the database being away is reported by the requests that need it.
      }
    }
  }
}
