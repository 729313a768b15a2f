import DataLoader from 'dataloader';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { AppError } from '../errors.js';
import { conversationKey } from '../service/conversation.js';
import type {
  AppendResult,
  Clock,
  HistoryQuery,
  InboxCursor,
  InboxEntry,
  MessageDraft,
  MessageStore,
  StoredMessage,
  UserId,
} from '../service/ports.js';
import { storedMessage } from '../service/ports.js';
import { evictOldest } from '../util/evict-oldest.js';
import { type Database, isDuplicate, nextLoopTurn } from './mysql-database.js';

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

/** Users per multi-row statement or IN list (placeholders stay far below MySQL's 65,535). */
const CHUNK = 1000;

/**
 * A JSON array of `[userId, seq]` pairs as a table (`user_id`, `seq`) to join against, so that an
 * UPDATE or DELETE over many users is one short statement with one parameter. The alternatives cost
 * MariaDB far more per row: `CASE user_id WHEN … THEN …` and `(user_id = ? AND seq < ?) OR …` are
 * searched linearly for every row they touch, and long lists make long statements to parse.
 * Joined pairs first (STRAIGHT_JOIN) and by primary key (FORCE INDEX, or a range per pair): a scan of
 * the other table — the optimizer's choice while it is small — would lock every row it reads and
 * deadlock with concurrent appends (sql/004 has the same fix for the append procedure).
 */
function userSeqPairs(json: string): string {
  return `JSON_TABLE(${json}, '$[*]' COLUMNS (user_id INT PATH '$[0]', seq BIGINT PATH '$[1]'))`;
}

/** Orders `[userId, seq]` pairs by user id: the order every writer locks per-user rows in. */
const byUserId = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]!;

/** InnoDB may pick a fan-out transaction as a deadlock victim; it is retried this many times. */
const DEADLOCK_RETRIES = 5;

function toMessage(row: MessageRow): StoredMessage {
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

interface PendingAppend {
  readonly draft: MessageDraft;
  readonly recipients: readonly UserId[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface MessageStoreTuning {
  /** Most appends written in one transaction. @default 500 */
  readonly maxBatch: number;
  /** Most inbox rows written in one transaction (a big group counts per member). @default 20000 */
  readonly maxRows: number;
  /** Batches committing at once (each holds one pooled connection); fewer means larger batches. @default 2 */
  readonly maxInFlight: number;
  /**
   * Most body characters in one batch: the batch travels as one JSON parameter, which must stay below
   * the server's max_allowed_packet (16 MiB by default; a character takes at most 6 bytes in JSON).
   * @default 1000000
   */
  readonly maxBodyChars: number;
}

const DEFAULT_TUNING: MessageStoreTuning = {
  maxBatch: 500,
  maxRows: 20_000,
  maxInFlight: 2,
  maxBodyChars: 1_000_000,
};
/** Delay between an ack and the pruning of the inbox rows it covers (acks of that time share one DELETE). */
const PRUNE_DELAY_MS = 1000;
/** Names cached per store (users and groups are never renamed). */
const NAME_CACHE_MAX = 100_000;

function remember(cache: Map<number, string>, id: number, name: string): void {
  cache.set(id, name);
  evictOldest(cache, NAME_CACHE_MAX);
}

/**
 * Messages, per-user inboxes and cursors in MySQL, with group commit: appends that arrive while other
 * batches are committing queue up and go into the next transaction together. One stored procedure call
 * (one round trip) reserves a block of message ids, inserts the messages, bumps each recipient's counter
 * row once by the number of messages it receives (rows locked in id order, so concurrent batches on any
 * node serialise per recipient and sequences stay gap-free), inserts the inbox rows and commits — one
 * fsync for the whole batch. A batch that fails on a duplicate cmid or a deadlock is retried one
 * append at a time, so one bad append never fails the others.
 */
export class MysqlMessageStore implements MessageStore {
  private readonly queue: PendingAppend[] = [];
  private inFlight = 0;
  private readonly pendingAcks = new Map<
    UserId,
    { seq: number; waiters: { resolve: () => void; reject: (e: unknown) => void }[] }
  >();
  private ackInFlight = false;
  /** Users whose acked inbox rows can go (their acks are written); pruned together after PRUNE_DELAY_MS. */
  private readonly prunable = new Set<UserId>();
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private stopped = false;
  private readonly userNames = new Map<number, string>();
  private readonly groupNames = new Map<number, string>();
  private readonly tuning: MessageStoreTuning;
  /** Cursor reads of one tick (a reconnect storm's resumes) go out as one `IN (…)` query; not a cache. */
  private readonly cursors = new DataLoader<UserId, InboxCursor>(
    async (userIds) => {
      const rows = await this.db.query<{ user_id: number; last_seq: number; acked_seq: number }[]>(
        `SELECT user_id, last_seq, acked_seq FROM inbox_cursor WHERE user_id IN (${userIds.map(() => '?').join(',')})`,
        userIds,
      );
      const found = new Map(rows.map((row) => [row.user_id, row]));
      return userIds.map((userId) => {
        const row = found.get(userId);
        return { ackedSeq: Number(row?.acked_seq ?? 0), lastSeq: Number(row?.last_seq ?? 0) };
      });
    },
    { cache: false, batchScheduleFn: nextLoopTurn, maxBatchSize: CHUNK },
  );

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    tuning: Partial<MessageStoreTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning };
  }

  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ draft, recipients, resolve, reject });
      this.pump();
    });
  }

  async readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    const rows = await this.db.execute<InboxRow[]>(
      `SELECT i.seq, ${MESSAGE_COLUMNS} FROM inbox i JOIN message m ON m.id = i.message_id ${MESSAGE_JOINS}
       WHERE i.user_id = ? AND i.seq > ? ORDER BY i.seq LIMIT ?`,
      [userId, afterSeq, String(limit)],
    );
    return rows.map((row) => ({ seq: Number(row.seq), message: toMessage(row) }));
  }

  cursor(userId: UserId): Promise<InboxCursor> {
    return this.cursors.load(userId);
  }

  /**
   * Acks from every session of this node are coalesced: one UPDATE (and one commit) per flush instead of
   * one per client ack. Resolves once the ack is written.
   */
  ack(userId: UserId, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.pendingAcks.get(userId);
      if (entry) {
        entry.seq = Math.max(entry.seq, seq);
        entry.waiters.push({ resolve, reject });
      } else {
        this.pendingAcks.set(userId, { seq, waiters: [{ resolve, reject }] });
      }
      if (!this.ackInFlight) void this.flushAcks();
    });
  }

  private async flushAcks(): Promise<void> {
    this.ackInFlight = true;
    try {
      while (this.pendingAcks.size > 0) {
        const batch = [...this.pendingAcks].slice(0, CHUNK);
        for (const [userId] of batch) this.pendingAcks.delete(userId);
        try {
          await this.db.query(
            `UPDATE ${userSeqPairs('?')} a STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = a.user_id
             SET c.acked_seq = GREATEST(c.acked_seq, LEAST(c.last_seq, a.seq))`,
            // In user id order: the join locks the cursor rows in array order, and appends lock them in
            // user id order too (sql/004) — any other order deadlocks against concurrent appends.
            [JSON.stringify(batch.map(([userId, entry]) => [userId, entry.seq]).sort(byUserId))],
          );
          for (const [userId, entry] of batch) {
            this.prunable.add(userId);
            for (const waiter of entry.waiters) waiter.resolve();
          }
          this.schedulePrune();
        } catch (error) {
          for (const [, entry] of batch) for (const waiter of entry.waiters) waiter.reject(error);
        }
      }
    } finally {
      this.ackInFlight = false;
    }
  }

  /**
   * Deletes the inbox rows of recently acked users below their acked cursor: once acked, a row is never
   * read again (replay starts after the acked sequence, and history reads the message table), so the inbox
   * holds only what is still owed. Best effort: a failed prune leaves rows that the user's next ack covers.
   * The bound is the stored cursor, never the ack the client claimed: the stored one is clamped to the last
   * committed sequence, so no undelivered row can be removed. The acked row itself stays, so each range
   * ends on a committed row that no append holds (with `<=` it would end on the next row, often one an
   * append is still inserting, and the delete would wait for it). READ COMMITTED, so the range delete
   * takes no gap locks that could hold up appends to the same inboxes.
   */
  pruneAcked(): Promise<void> {
    clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    this.pruning ??= this.prune().finally(() => {
      this.pruning = undefined;
      this.schedulePrune();
    });
    return this.pruning;
  }

  /** Stops pruning; rows not yet pruned stay until their users ack again. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
  }

  private schedulePrune(): void {
    if (this.stopped || this.pruneTimer || this.pruning || this.prunable.size === 0) return;
    this.pruneTimer = setTimeout(() => void this.pruneAcked(), PRUNE_DELAY_MS);
    this.pruneTimer.unref();
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

  private pump(): void {
    while (this.inFlight < this.tuning.maxInFlight && this.queue.length > 0) {
      const batch: PendingAppend[] = [];
      let rows = 0;
      let chars = 0;
      while (this.queue.length > 0 && batch.length < this.tuning.maxBatch) {
        const next = this.queue[0]!;
        const full =
          rows + next.recipients.length > this.tuning.maxRows ||
          chars + next.draft.body.length > this.tuning.maxBodyChars;
        if (batch.length > 0 && full) break;
        batch.push(this.queue.shift()!);
        rows += next.recipients.length;
        chars += next.draft.body.length;
      }
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async runBatch(batch: readonly PendingAppend[]): Promise<void> {
    try {
      const results = await this.withDeadlockRetry(() => this.writeBatch(batch));
      batch.forEach((item, i) => item.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        const [item] = batch;
        if (item!.draft.cmid !== null && isDuplicate(error, 'uq_message_cmid')) {
          this.existing(item!.draft.senderId, item!.draft.cmid).then(item!.resolve, item!.reject);
        } else item!.reject(error);
        return;
      }
      // Isolate the failure: each append on its own, in order.
      for (const item of batch) await this.runBatch([item]);
    }
  }

  private async withDeadlockRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const deadlock = (error as { code?: string } | null)?.code === 'ER_LOCK_DEADLOCK';
        if (!deadlock || attempt >= DEADLOCK_RETRIES) throw error;
      }
    }
  }

  private writeBatch(batch: readonly PendingAppend[]): Promise<AppendResult[]> {
    return this.db.withConnection(async (connection) => {
      const results: (AppendResult | undefined)[] = new Array<AppendResult | undefined>(batch.length);
      // Resends: a cmid already stored answers with the stored message; a cmid twice in this batch follows the first.
      const firstOfKey = new Map<string, number>();
      const followers: [number, number][] = [];
      const fresh: number[] = [];
      batch.forEach((item, i) => {
        const cmid = item.draft.cmid;
        if (cmid === null) return fresh.push(i);
        const key = `${item.draft.senderId}\u0000${cmid}`;
        const first = firstOfKey.get(key);
        if (first === undefined) {
          firstOfKey.set(key, i);
          fresh.push(i);
        } else followers.push([i, first]);
      });
      // No pre-check for stored cmids: a resend hits uq_message_cmid, and runBatch retries the batch one
      // append at a time, where the duplicate answers with the stored message. Resends are rare.
      if (fresh.length > 0) {
        const stored = await this.insertBatch(
          connection,
          fresh.map((i) => batch[i]!),
        );
        fresh.forEach((i, k) => (results[i] = stored[k]));
      }
      for (const [i, first] of followers)
        results[i] = { message: results[first]!.message, deliveries: [], duplicate: true };
      return results as AppendResult[];
    });
  }

  /**
   * Writes the batch in one round trip: `parley_append_batch` (sql/004) reserves the ids, inserts the
   * messages, bumps the counters, inserts the inbox rows and commits, and returns the first id and each
   * recipient's counter after the batch, from which the deliveries are numbered here the same way.
   */
  private async insertBatch(
    connection: Connection,
    items: readonly PendingAppend[],
  ): Promise<AppendResult[]> {
    // Names first: an unknown sender fails the batch before anything is written.
    const names = await this.namesOf(connection, items);
    const now = this.clock.now();
    const perItem = items.map((item) => [...new Set(item.recipients)]);
    const json = JSON.stringify(
      items.map(({ draft }, k) => ({
        s: draft.senderId,
        u: draft.target.kind === 'user' ? draft.target.id : undefined,
        g: draft.target.kind === 'group' ? draft.target.id : undefined,
        c: conversationKey(draft.senderId, draft.target),
        b: draft.body,
        t: draft.clientTime,
        m: draft.cmid ?? undefined,
        r: perItem[k],
      })),
    );
    // A prepared statement: the batch travels as one binary parameter, neither escaped here nor lexed as a
    // string literal by the server (~20 % of this process's cost per append with query()).
    const [sets] = await connection.execute<RowDataPacket[][]>('CALL parley_append_batch(?, ?)', [json, now]);
    const [[first], cursors] = sets as unknown as [
      [{ first_id: number }],
      { user_id: number; last_seq: number }[],
    ];
    const firstId = Number(first.first_id);
    // The procedure numbered each recipient's rows last_seq - count + 1 … last_seq in array order: same here.
    const counts = new Map<UserId, number>();
    for (const users of perItem) for (const user of users) counts.set(user, (counts.get(user) ?? 0) + 1);
    const next = new Map<UserId, number>();
    for (const row of cursors) next.set(row.user_id, Number(row.last_seq) - counts.get(row.user_id)! + 1);
    return items.map(({ draft }, k) => {
      const deliveries = perItem[k]!.map((userId) => {
        const seq = next.get(userId)!;
        next.set(userId, seq + 1);
        return { userId, seq };
      });
      const message = storedMessage(
        draft,
        firstId + k,
        names.users.get(draft.senderId) ?? '',
        draft.target.kind === 'group' ? (names.groups.get(draft.target.id) ?? '') : undefined,
        now,
      );
      return { message, deliveries, duplicate: false };
    });
  }

  /** Sender and group names; cached because users and groups are never renamed. */
  private async namesOf(
    connection: Connection,
    items: readonly PendingAppend[],
  ): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
    const senders = [...new Set(items.map((item) => item.draft.senderId))].filter(
      (id) => !this.userNames.has(id),
    );
    const groupIds = [
      ...new Set(items.flatMap((item) => (item.draft.target.kind === 'group' ? [item.draft.target.id] : []))),
    ].filter((id) => !this.groupNames.has(id));
    if (senders.length > 0) {
      const [rows] = await connection.query<({ id: number; name: string } & RowDataPacket)[]>(
        `SELECT id, name FROM user WHERE id IN (${senders.map(() => '?').join(',')})`,
        senders,
      );
      if (rows.length < senders.length) throw new AppError('USER_NOT_FOUND', 'sender does not exist');
      for (const row of rows) remember(this.userNames, row.id, row.name);
    }
    if (groupIds.length > 0) {
      const [rows] = await connection.query<({ id: number; groupname: string } & RowDataPacket)[]>(
        `SELECT id, groupname FROM allgroup WHERE id IN (${groupIds.map(() => '?').join(',')})`,
        groupIds,
      );
      for (const row of rows) remember(this.groupNames, row.id, row.groupname);
    }
    return { users: this.userNames, groups: this.groupNames };
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
