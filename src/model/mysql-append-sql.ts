import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { conversationKey } from '../service/conversation.js';
import type { AppendResult, MessageDraft, StoredMessage, UserId } from '../service/ports.js';
import { storedMessage } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { AppendRequest, AppendWriter } from './append-batcher.js';
import { type Database, isDuplicate } from './mysql-database.js';
import type { MysqlMessageReads } from './mysql-message-reads.js';
import type { MysqlNameCache, Names } from './mysql-name-cache.js';
import {
  appendStatements,
  type IdSource,
  idSourceOf,
  MESSAGE_COLUMNS,
  MESSAGE_JOINS,
  type MessageRow,
  toMessage,
} from './mysql-message-rows.js';

/** InnoDB may pick a fan-out transaction as a deadlock victim; it is retried this many times. */
const DEADLOCK_RETRIES = 5;

/**
 * Writes a batch of appends as one transaction in one round trip. Where the server hands out consecutive
 * AUTO_INCREMENT ids to a multi-row INSERT (`innodb_autoinc_lock_mode` 0 or 1 and
 * `auto_increment_increment` 1 — MariaDB's defaults), the batch is one multi-statement text query
 * (`appendStatements`): plain multi-row INSERTs of the messages, the counter bumps (rows in user-id order,
 * so concurrent batches on any node serialise per recipient and sequences stay gap-free) and the inbox
 * rows, then the counters read back, and COMMIT — one fsync for the whole batch, no JSON, no global id
 * row. Elsewhere (MySQL 8's default interleaved mode, Galera) it falls back, with a warning, to
 * `CALL parley_append_batch(json, now)` (sql/006), which takes ids from the one-row `message_id_seq`.
 */
export class MysqlAppendWriter implements AppendWriter {
  /** How this server's ids are taken; checked before the first batch and again after a lost connection. */
  private idSource: Promise<IdSource> | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly names: MysqlNameCache,
    private readonly reads: MysqlMessageReads,
  ) {}

  /** The batch in one transaction; a deadlock victim is retried whole (it rolled back whole). */
  async write(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.writeBatch(batch);
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        // The server may come back with other settings: check its ids again before the next batch.
        if (code === 'UNAVAILABLE') this.idSource = undefined;
        if (code !== 'ER_LOCK_DEADLOCK' || attempt >= DEADLOCK_RETRIES) throw error;
      }
    }
  }

  /** A resend that failed on `uq_message_cmid` alone answers with the stored message; anything else fails. */
  async settleFailed(request: AppendRequest, error: unknown): Promise<AppendResult> {
    const { senderId, cmid } = request.draft;
    if (cmid !== null && isDuplicate(error, 'uq_message_cmid')) return this.reads.resent(senderId, cmid);
    throw error;
  }

  /** Which id source the server allows (for tests and the start-up log). */
  source(): Promise<IdSource> {
    this.idSource ??= this.checkIdSource().catch((error: unknown) => {
      this.idSource = undefined;
      throw error;
    });
    return this.idSource;
  }

  private async checkIdSource(): Promise<IdSource> {
    const [row] = await this.db.query<{ mode: number; step: number }[]>(
      'SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step',
    );
    const source = idSourceOf(Number(row?.mode), Number(row?.step));
    if (source === 'sequence') {
      this.db.logger.warn(
        { innodb_autoinc_lock_mode: row?.mode, auto_increment_increment: row?.step },
        'MySQL: multi-row inserts may not get consecutive AUTO_INCREMENT ids here, so appends take ids from ' +
          'the message_id_seq row (slower; set innodb_autoinc_lock_mode=1 and auto_increment_increment=1)',
      );
      // Ids taken by AUTO_INCREMENT before (the server ran in another mode) must not be handed out again.
      await this.db.query(
        `UPDATE message_id_seq s SET s.next_id = GREATEST(s.next_id, (SELECT COALESCE(MAX(id), 0) + 1 FROM message))
         WHERE s.id = 1`,
      );
    }
    return source;
  }

  private async writeBatch(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    const source = await this.source();
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
      // No pre-check for stored cmids (resends are rare): a resend hits uq_message_cmid, the batch rolls back,
      // and then the stored messages of the batch's cmids answer their resends and the rest is written again
      // — once: after a reconnect storm many batches carry a resend, and splitting each into single appends
      // (the batcher's answer to any failure) would multiply the commits exactly when the node is busiest.
      const write = (items: readonly AppendRequest[]) =>
        source === 'auto-increment'
          ? this.insertBatch(connection, items)
          : this.callProcedure(connection, items);
      for (let rewritten = false; fresh.length > 0; rewritten = true) {
        try {
          const stored = await write(fresh.map((i) => batch[i]!));
          fresh.forEach((i, k) => (results[i] = stored[k]));
          break;
        } catch (error) {
          if (rewritten || !isDuplicate(error, 'uq_message_cmid')) throw error;
          const resent = await this.storedOf(
            connection,
            fresh.map((i) => batch[i]!.draft),
          );
          const before = fresh.length;
          for (let n = fresh.length - 1; n >= 0; n--) {
            const { senderId, cmid } = batch[fresh[n]!]!.draft;
            const message = cmid === null ? undefined : resent.get(`${senderId}\u0000${cmid}`);
            if (message === undefined) continue;
            results[fresh[n]!] = { message, deliveries: [], duplicate: true };
            fresh.splice(n, 1);
          }
          if (fresh.length === before) throw error; // not a resend of a stored message: nothing to learn
        }
      }
      for (const [i, first] of followers)
        results[i] = { message: results[first]!.message, deliveries: [], duplicate: true };
      return results as AppendResult[];
    });
  }

  /** The stored messages of the drafts' (sender, cmid) pairs that exist, by `sender\0cmid`. */
  private async storedOf(
    connection: Connection,
    drafts: readonly MessageDraft[],
  ): Promise<Map<string, StoredMessage>> {
    const keyed = drafts.filter((draft) => draft.cmid !== null);
    const [rows] = await connection.query<MessageRow[]>(
      `SELECT ${MESSAGE_COLUMNS} FROM message m ${MESSAGE_JOINS}
       WHERE (m.sender_id, m.cmid) IN (${keyed.map(() => '(?,?)').join(',')})`,
      keyed.flatMap((draft) => [draft.senderId, draft.cmid]),
    );
    return new Map(rows.map((row) => [`${row.sender_id}\u0000${row.cmid}`, toMessage(row)]));
  }

  /**
   * The batch as one multi-statement round trip (see `appendStatements`). A failing statement stops the
   * rest, leaving the transaction open unless the server rolled it back (a deadlock): it is rolled back
   * here before the connection goes back to the pool, so nothing of the batch stays.
   */
  private async insertBatch(
    connection: Connection,
    items: readonly AppendRequest[],
  ): Promise<AppendResult[]> {
    // Names first: an unknown sender fails the batch before anything is written.
    const names = await this.names.namesOf(
      connection,
      items.map((item) => item.draft),
    );
    const now = this.clock.now();
    const statements = appendStatements(items, now);
    let sets: unknown;
    try {
      [sets] = await connection.query(statements.sql, statements.params);
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const results = sets as unknown[];
    const messages = results[statements.messagesAt] as ResultSetHeader;
    const cursors =
      statements.cursorsAt === undefined
        ? []
        : (results[statements.cursorsAt] as ({ user_id: number; last_seq: number } & RowDataPacket)[]);
    return this.results(items, statements.recipients, Number(messages.insertId), cursors, names, now);
  }

  /** The fallback: `parley_append_batch` (sql/006) with the batch as one JSON parameter. */
  private async callProcedure(
    connection: Connection,
    items: readonly AppendRequest[],
  ): Promise<AppendResult[]> {
    const names = await this.names.namesOf(
      connection,
      items.map((item) => item.draft),
    );
    const now = this.clock.now();
    const recipients = items.map((item) => [...new Set(item.recipients)]);
    const json = JSON.stringify(
      items.map(({ draft }, k) => ({
        s: draft.senderId,
        u: draft.target.kind === 'user' ? draft.target.id : undefined,
        g: draft.target.kind === 'group' ? draft.target.id : undefined,
        c: conversationKey(draft.senderId, draft.target),
        b: draft.body,
        t: draft.clientTime,
        m: draft.cmid ?? undefined,
        r: recipients[k],
      })),
    );
    const [sets] = await connection.execute<RowDataPacket[][]>('CALL parley_append_batch(?, ?)', [json, now]);
    const [[first], cursors] = sets as unknown as [
      [{ first_id: number }],
      { user_id: number; last_seq: number }[],
    ];
    return this.results(items, recipients, Number(first.first_id), cursors, names, now);
  }

  /**
   * Each append's stored message (ids firstId, firstId + 1, … in batch order) and its deliveries: each
   * recipient's rows were numbered last_seq - (its count in the batch) + 1 … last_seq in batch order.
   */
  private results(
    items: readonly AppendRequest[],
    recipients: readonly (readonly UserId[])[],
    firstId: number,
    cursors: readonly { user_id: number; last_seq: number }[],
    names: Names,
    now: number,
  ): AppendResult[] {
    const counts = new Map<UserId, number>();
    for (const users of recipients) for (const user of users) counts.set(user, (counts.get(user) ?? 0) + 1);
    const next = new Map<UserId, number>();
    for (const row of cursors) next.set(row.user_id, Number(row.last_seq) - counts.get(row.user_id)! + 1);
    return items.map(({ draft }, k) => {
      const deliveries = recipients[k]!.map((userId) => {
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
}
