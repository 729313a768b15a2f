import type { DeviceId, UserId } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { Database } from './mysql-database.js';
import { CHUNK } from './mysql-message-rows.js';
import { byUserThenDevice, NEVER_ACTIVE, retryDeadlocks, userDeviceSeqTriples } from './mysql-device-rows.js';

interface PendingAck {
  readonly userId: UserId;
  readonly device: DeviceId;
  seq: number;
  /** False while the entry is only a touch (a session opening): no position moved, nothing to prune. */
  acked: boolean;
  readonly waiters: { readonly resolve: () => void; readonly reject: (error: unknown) => void }[];
}

/** ACK_FLUSH_MS' default: at most one ack write per node every 50 ms while acks keep coming. */
export const DEFAULT_ACK_FLUSH_MS = 50;

/**
 * Node-wide ack writer: acks from every session of this node are coalesced into one UPDATE (and one
 * commit) per flush instead of one per client ack. Flushes are spaced: one starts at most every
 * `flushIntervalMs` (ACK_FLUSH_MS), so under load the acks of that span go together (a commit costs
 * MariaDB ~250 µs of CPU whatever its size, and a device's acks collapse into its highest), while an ack
 * on a node that flushed nothing for that long is written at once — an idle node never lingers. A touch
 * (a session opening, whose login waits for it) does not wait for the interval either. Every write also
 * marks the device active (`active_at`), so a touch rides along with the acks of the same moment.
 *
 * The trade-off: acks not yet written when a node dies are lost, so their messages come again after the
 * reconnect (redelivery, never loss: nothing is pruned before its ack is stored).
 */
export class MysqlAckWriter {
  /** At most one entry per (user, device), so this is bounded by the sessions on this node. */
  private readonly pending = new Map<string, PendingAck>();
  private flushing = false;
  /** A touch is pending: the next flush starts as soon as the one in flight is done. */
  private urgent = false;
  /**
   * Running for `flushIntervalMs` after a flush started: acks wait for it to end. A timer rather than clock
   * arithmetic, so a store given a fake clock (tests) still flushes.
   */
  private cooling: NodeJS.Timeout | undefined;
  /** The flush in flight, for close(). */
  private inFlight: Promise<void> | undefined;
  /** Set by close(): from then on every ack is written at once (the store is about to close its pool). */
  private closing = false;

  /** `onWritten` learns the users whose acks were stored (their floor may rise, rows below it go). */
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly onWritten: (userIds: readonly UserId[]) => void,
    private readonly flushIntervalMs: number = DEFAULT_ACK_FLUSH_MS,
  ) {}

  /**
   * Moves the device's acked position to min(seq, last_seq), never back, and marks it active; resolves
   * once written. A device that never opened a session (no row, or created by a logout) is left alone.
   */
  ack(userId: UserId, device: DeviceId, seq: number): Promise<void> {
    return this.enqueue(userId, device, seq, true);
  }

  /** Marks the device active now without moving its position (a session opened on it); written without waiting for the interval. */
  touch(userId: UserId, device: DeviceId): Promise<void> {
    this.urgent = true;
    return this.enqueue(userId, device, 0, false);
  }

  private enqueue(userId: UserId, device: DeviceId, seq: number, acked: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const key = `${userId}\u0000${device}`;
      const entry = this.pending.get(key);
      if (entry) {
        entry.seq = Math.max(entry.seq, seq);
        entry.acked ||= acked;
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(key, { userId, device, seq, acked, waiters: [{ resolve, reject }] });
      }
      this.schedule();
    });
  }

  /** Starts a flush now if one may start; otherwise the flush or the interval under way calls again. */
  private schedule(): void {
    if (this.flushing || this.pending.size === 0) return;
    if (this.cooling && !this.urgent && !this.closing) return;
    this.inFlight = this.flush();
  }

  /**
   * Writes every ack still waiting for the interval, now, and resolves when nothing is pending or in flight;
   * acks arriving meanwhile (sessions still ending) go at once too. Called before the pool closes: an ack
   * held back at shutdown would otherwise hit a closed pool and its messages come again (v1 clients
   * cannot tell a duplicate).
   */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.cooling);
    this.cooling = undefined;
    this.schedule();
    while (this.inFlight) {
      const flight = this.inFlight;
      await flight;
      if (this.inFlight === flight) this.inFlight = undefined;
    }
  }

  /** Writes every ack pending now (in chunks); acks arriving meanwhile wait for the next flush. */
  private async flush(): Promise<void> {
    this.flushing = true;
    this.urgent = false;
    if (this.flushIntervalMs > 0 && !this.closing) {
      clearTimeout(this.cooling);
      // Not unref'd: sessions ending (and a shutdown) may be waiting for the acks it holds back.
      this.cooling = setTimeout(() => {
        this.cooling = undefined;
        this.schedule();
      }, this.flushIntervalMs);
    }
    const entries = [...this.pending.values()];
    this.pending.clear();
    try {
      for (let i = 0; i < entries.length; i += CHUNK) await this.write(entries.slice(i, i + CHUNK));
    } finally {
      this.flushing = false;
      this.schedule();
    }
  }

  private async write(batch: readonly PendingAck[]): Promise<void> {
    try {
      // The cursor row is read for the clamp and the device row written, user by user in user id
      // order (then device): appends lock cursor rows in user id order too (sql/004), and a device
      // joining locks its user's cursor row before its device row (mysql-devices.ts) — any other
      // order could deadlock with them. Devices that never opened a session are skipped.
      const now = this.clock.now();
      const triples = JSON.stringify(
        batch
          .map((entry): [UserId, DeviceId, number] => [entry.userId, entry.device, entry.seq])
          .sort(byUserThenDevice),
      );
      await retryDeadlocks(() =>
        this.db.query(
          `UPDATE ${userDeviceSeqTriples('?')} a
           STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = a.user_id
           STRAIGHT_JOIN inbox_device d FORCE INDEX (PRIMARY) ON d.user_id = a.user_id AND d.device = a.device
           SET d.acked_seq = GREATEST(d.acked_seq, LEAST(c.last_seq, a.seq)),
               d.active_at = GREATEST(d.active_at, ?)
           WHERE d.active_at <> ?`,
          [triples, now, NEVER_ACTIVE],
        ),
      );
      for (const entry of batch) for (const waiter of entry.waiters) waiter.resolve();
      const acked = new Set(batch.filter((entry) => entry.acked).map((entry) => entry.userId));
      if (acked.size > 0) this.onWritten([...acked]);
    } catch (error) {
      for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
    }
  }
}
