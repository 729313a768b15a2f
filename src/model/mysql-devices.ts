import DataLoader from 'dataloader';
import type { RowDataPacket } from 'mysql2/promise';
import type { DeviceCursor, DeviceId, InboxCursor, UserId } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { MysqlAckWriter } from './mysql-ack-writer.js';
import { BatchGate } from './batch-gate.js';
import type { Database } from './mysql-database.js';
import { NEVER_ACTIVE, retryDeadlocks } from './mysql-device-rows.js';
import { CHUNK } from './mysql-message-rows.js';

interface DeviceState {
  readonly acked: number;
  readonly epoch: number;
  readonly activeAt: number;
}

/** A user's inbox cursor with all their devices, as one read returns them. */
interface UserDevices {
  readonly lastSeq: number;
  /** inbox_cursor.acked_seq: the floor (sql/005). */
  readonly floor: number;
  readonly devices: ReadonlyMap<DeviceId, DeviceState>;
}

interface DeviceRow extends RowDataPacket {
  user_id: number;
  last_seq: number;
  floor_seq: number;
  device: string | null;
  acked_seq: number | null;
  epoch: number | null;
  active_at: number | null;
}

/** Rows of `inbox_cursor c LEFT JOIN inbox_device d` (DEVICE_COLUMNS) into one UserDevices per user. */
const DEVICE_COLUMNS = `c.user_id, c.last_seq, c.acked_seq AS floor_seq, d.device, d.acked_seq, d.epoch, d.active_at`;

function collect(rows: readonly DeviceRow[]): Map<UserId, UserDevices> {
  const users = new Map<UserId, { lastSeq: number; floor: number; devices: Map<DeviceId, DeviceState> }>();
  for (const row of rows) {
    let user = users.get(row.user_id);
    if (!user) {
      user = { lastSeq: Number(row.last_seq), floor: Number(row.floor_seq), devices: new Map() };
      users.set(row.user_id, user);
    }
    if (row.device !== null)
      user.devices.set(row.device, {
        acked: Number(row.acked_seq),
        epoch: Number(row.epoch),
        activeAt: Number(row.active_at),
      });
  }
  return users;
}

const NO_DEVICES: UserDevices = { lastSeq: 0, floor: 0, devices: new Map() };

/**
 * A session opening on a device marked active less than this long ago writes no new mark (the retention
 * it is judged against is at least a day, DEVICE_RETENTION_DAYS ≥ 1; acks mark it too).
 */
export const TOUCH_AGAIN_AFTER_MS = 10 * 60_000;

/**
 * Devices in MySQL (`inbox_device`, sql/005): sessions opening, cursors, logouts. Acks go through the
 * node-wide ack writer, and the floor is raised by the pruner (mysql-inbox-pruner.ts).
 *
 * Opening a session on a device that is already active within the retention window — nearly every
 * login and resume — is a batched read (one query for the opens of one event-loop turn and, under load,
 * of those arriving while the previous read is in flight, as a reconnect storm brings them) plus, unless it was marked within TOUCH_AGAIN_AFTER_MS, a touch coalesced with the
 * node's acks. A device joining the active set (new,
 * back after the window, or below the floor) instead takes its user's cursor row in a short transaction,
 * bumps `device_gen` and inserts itself at the floor: the pruner raises a floor only if `device_gen` did not
 * change since it read the devices, so it never strands a device that joined meanwhile.
 */
export class MysqlDevices {
  /** Reads of one loop turn, and under load those that arrive while the previous one is in flight. */
  private readonly gate = new BatchGate();
  private readonly loader = new DataLoader<UserId, UserDevices>(
    (userIds) => this.gate.track(this.loadDevices(userIds)),
    { cache: false, batchScheduleFn: this.gate.schedule, maxBatchSize: CHUNK },
  );

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly deviceRetentionMs: number,
    private readonly acks: MysqlAckWriter,
  ) {}

  private async loadDevices(userIds: readonly UserId[]): Promise<UserDevices[]> {
    const rows = await this.db.query<DeviceRow[]>(
      `SELECT ${DEVICE_COLUMNS} FROM inbox_cursor c LEFT JOIN inbox_device d ON d.user_id = c.user_id
       WHERE c.user_id IN (${userIds.map(() => '?').join(',')})`,
      userIds,
    );
    const found = collect(rows);
    return userIds.map((userId) => found.get(userId) ?? NO_DEVICES);
  }

  async open(userId: UserId, device: DeviceId): Promise<DeviceCursor> {
    const user = await this.loader.load(userId);
    const now = this.clock.now();
    const cutoff = now - this.deviceRetentionMs;
    const state = user.devices.get(device);
    if (state && state.activeAt > cutoff && state.acked >= user.floor) {
      // A device marked active moments ago (a reconnect, a repeat login) is not marked again: activity is
      // judged against a retention of days, so a mark up to TOUCH_AGAIN_AFTER_MS old changes nothing.
      if (state.activeAt <= now - TOUCH_AGAIN_AFTER_MS) await this.acks.touch(userId, device);
      return {
        ackedSeq: state.acked,
        lastSeq: user.lastSeq,
        reset: false,
        epoch: state.epoch,
        activeDevices: countActive(user.devices, cutoff),
      };
    }
    return this.join(userId, device, now);
  }

  /** The device's cursor; a device without a session yet would start at the floor. */
  async cursor(userId: UserId, device: DeviceId): Promise<InboxCursor> {
    const user = await this.loader.load(userId);
    return { ackedSeq: user.devices.get(device)?.acked ?? user.floor, lastSeq: user.lastSeq };
  }

  /** Increments the device's token epoch; a device never seen is recorded as never active. */
  bumpEpoch(userId: UserId, device: DeviceId): Promise<number> {
    return this.db.transaction(async (connection) => {
      await connection.execute(
        `INSERT INTO inbox_device (user_id, device, acked_seq, epoch, active_at) VALUES (?, ?, 0, 1, ?)
         ON DUPLICATE KEY UPDATE epoch = epoch + 1`,
        [userId, device, NEVER_ACTIVE],
      );
      const [rows] = await connection.execute<({ epoch: number } & RowDataPacket)[]>(
        'SELECT epoch FROM inbox_device WHERE user_id = ? AND device = ?',
        [userId, device],
      );
      return Number(rows[0]!.epoch);
    });
  }

  /**
   * The device joins the active set at max(its position, the floor): reset unless it had a session before
   * and missed nothing pruned. The cursor row is locked first (created if the user has none yet), then the
   * device row — the order the ack writer uses too.
   */
  private join(userId: UserId, device: DeviceId, now: number): Promise<DeviceCursor> {
    return retryDeadlocks(() => this.joinOnce(userId, device, now));
  }

  private joinOnce(userId: UserId, device: DeviceId, now: number): Promise<DeviceCursor> {
    return this.db.transaction(async (connection) => {
      await connection.execute(
        'INSERT INTO inbox_cursor (user_id) VALUES (?) ON DUPLICATE KEY UPDATE device_gen = device_gen + 1',
        [userId],
      );
      const [rows] = await connection.execute<DeviceRow[]>(
        `SELECT ${DEVICE_COLUMNS} FROM inbox_cursor c LEFT JOIN inbox_device d ON d.user_id = c.user_id
         WHERE c.user_id = ?`,
        [userId],
      );
      const user = collect(rows).get(userId) ?? NO_DEVICES;
      const known = user.devices.get(device);
      const reset = !known || known.activeAt === NEVER_ACTIVE || known.acked < user.floor;
      const acked = Math.max(known?.acked ?? 0, user.floor);
      await connection.execute(
        `INSERT INTO inbox_device (user_id, device, acked_seq, epoch, active_at) VALUES (?, ?, ?, 0, ?)
         ON DUPLICATE KEY UPDATE acked_seq = GREATEST(acked_seq, VALUES(acked_seq)), active_at = VALUES(active_at)`,
        [userId, device, acked, now],
      );
      const cutoff = now - this.deviceRetentionMs;
      const others = [...user.devices].filter(([name]) => name !== device);
      return {
        ackedSeq: acked,
        lastSeq: user.lastSeq,
        reset,
        epoch: known?.epoch ?? 0,
        activeDevices: countActive(new Map(others), cutoff) + 1,
      };
    });
  }
}

function countActive(devices: ReadonlyMap<DeviceId, DeviceState>, cutoff: number): number {
  let count = 0;
  for (const state of devices.values()) if (state.activeAt > cutoff) count++;
  return count;
}
