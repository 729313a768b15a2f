/**
 * Benchmark (not a test): what one transaction of each kind the store writes costs MariaDB (its process
 * CPU from /proc, and wall time), one at a time on one connection, with the redo log flushed at every
 * commit (`innodb_flush_log_at_trx_commit=1`, the default) and, to separate the fsync's share, without (=2).
 *
 *   npm run bench:commit-cost -- --count 2000
 */
import '../src/require-node.js';
import { createLogger } from '../src/logger.js';
import { loadMigrations, migrate } from '../src/model/migrator.js';
import { Database } from '../src/model/mysql-database.js';
import { MysqlAckWriter } from '../src/model/mysql-ack-writer.js';
import { MysqlAppendWriter } from '../src/model/mysql-append-sql.js';
import { MysqlMessageReads } from '../src/model/mysql-message-reads.js';
import { MysqlNameCache } from '../src/model/mysql-name-cache.js';
import { createMysqlStore } from '../src/model/mysql-store.js';
import { MIGRATIONS_DIR } from '../src/model/open-mysql-store.js';
import type { AppendRequest } from '../src/model/append-batcher.js';
import { appendStatements } from '../src/model/mysql-message-rows.js';
import { systemClock } from '../src/util/clock.js';
import { runCommandLine } from '../src/util/command-line.js';
import { MariaDb } from '../scripts/lib/mariadb.js';
import { ProcessCost } from './lib/process-cost.js';

const { values } = runCommandLine({
  name: 'bench:commit-cost',
  usage: 'npm run bench:commit-cost -- [--count N]',
  summary: `Benchmark (not a test): MariaDB CPU and wall time of one transaction of each kind the store writes
(a round trip alone, a one-row autocommit INSERT, an append of 1 and of 10 messages, an ack write), one at a
time, with innodb_flush_log_at_trx_commit 1 and 2; and the append of one message statement by statement
(each prefix of its statements, then COMMIT) with two alternatives for the inbox rows. Starts a private
MariaDB.`,
  options: {
    count: { type: 'integer', default: 2000, description: 'transactions of each kind per setting' },
  },
});

const mariadb = await MariaDb.start();
try {
  const url = await mariadb.createDatabase('cost');
  const db = new Database({
    url,
    poolSize: 1,
    acquireTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    logger: createLogger('warn'),
  });
  await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  const store = createMysqlStore(db, systemClock);
  const users: number[] = [];
  for (let i = 0; i < 200; i++) users.push((await store.users.create(`user${i}`, 'x')).id);
  for (const id of users) await store.messages.openDevice(id, 'bench');
  await db.query('CREATE TABLE scratch (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
  const writer = new MysqlAppendWriter(db, systemClock, new MysqlNameCache(), new MysqlMessageReads(db));
  const acks = new MysqlAckWriter(db, systemClock, () => undefined, 0);
  let n = 0;
  /** A one-to-one message to the next user in turn. */
  const nextRequest = (): AppendRequest => {
    const to = users[n++ % users.length]!;
    return {
      draft: {
        senderId: users[(n * 7) % users.length]!,
        target: { kind: 'user', id: to },
        body: 'benchmark message body',
        clientTime: 't',
        cmid: null,
      },
      recipients: [to],
    };
  };
  const append = (size: number) => writer.write(Array.from({ length: size }, nextRequest));
  // The append's statements one by one: a prefix of them (and COMMIT), with their own parameters.
  const appendPrefix = async (keep: number, inboxAsValues = false) => {
    const request = nextRequest();
    const to = request.recipients[0]!;
    const { sql, params } = appendStatements([request], Date.now());
    const statements = sql.split(';\n');
    const parts: string[] = [];
    const kept: unknown[] = [];
    let at = 0;
    statements.slice(0, -1).forEach((statement, i) => {
      const count = statement.split('?').length - 1;
      if (i < keep) {
        if (inboxAsValues && statement.includes('INSERT INTO inbox ')) {
          parts.push(
            `INSERT INTO inbox (user_id, seq, message_id) VALUES (?, (SELECT last_seq FROM inbox_cursor WHERE user_id = ?), LAST_INSERT_ID())`,
          );
          kept.push(to, to);
        } else {
          parts.push(statement);
          kept.push(...params.slice(at, at + count));
        }
      }
      at += count;
    });
    parts.push('COMMIT');
    await db.withConnection((connection) => connection.query(parts.join(';\n'), kept));
  };
  // Two round trips: message, counters and their read-back; then the inbox rows as plain VALUES and COMMIT.
  const appendTwoTrips = async () => {
    const to = users[n++ % users.length]!;
    const from = users[(n * 7) % users.length]!;
    await db.withConnection(async (connection) => {
      const [sets] = await connection.query(
        `START TRANSACTION;
         INSERT INTO message (sender_id, to_user_id, group_id, conversation, body, client_time, cmid, created_at) VALUES (?,?,?,?,?,?,?,?);
         INSERT INTO inbox_cursor (user_id, last_seq) VALUES (?, 1) ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq);
         SELECT user_id, last_seq FROM inbox_cursor WHERE user_id IN (?)`,
        [
          from,
          to,
          null,
          `u:${Math.min(from, to)}:${Math.max(from, to)}`,
          'benchmark message body',
          't',
          null,
          Date.now(),
          to,
          to,
        ],
      );
      const results = sets as unknown as [unknown, { insertId: number }, unknown, { last_seq: number }[]];
      await connection.query('INSERT INTO inbox (user_id, seq, message_id) VALUES (?,?,?);\nCOMMIT', [
        to,
        results[3][0]!.last_seq,
        results[1].insertId,
      ]);
    });
  };
  const kinds: [string, () => Promise<unknown>][] = [
    ['append of 1 in two round trips, inbox as VALUES', appendTwoTrips],
    ['append of 1: message INSERT only', () => appendPrefix(2)],
    ['… + counter upsert', () => appendPrefix(3)],
    ['… + inbox INSERT … SELECT JSON_TABLE', () => appendPrefix(4)],
    ['… + inbox INSERT VALUES (subquery)', () => appendPrefix(4, true)],
    ['… + counters read back (all 4)', () => appendPrefix(5)],
    ['round trip (DO 1)', () => db.query('DO 1')],
    ['autocommit 1-row INSERT', () => db.query('INSERT INTO scratch (v) VALUES (1)')],
    ['append, batch of 1', () => append(1)],
    ['append, batch of 10', () => append(10)],
    ['ack write, 1 device', () => acks.ack(users[n++ % users.length]!, 'bench', n)],
  ];
  const rows: Record<string, string | number>[] = [];
  for (const flush of [1, 2]) {
    await db.query(`SET GLOBAL innodb_flush_log_at_trx_commit = ${flush}`);
    for (const [name, op] of kinds) {
      for (let i = 0; i < 50; i++) await op(); // warm-up
      const cost = ProcessCost.start({ mariadb: [mariadb.pid!] });
      const start = performance.now();
      for (let i = 0; i < values.count; i++) await op();
      const wallMs = performance.now() - start;
      const { mariadb: spent } = await cost.stop();
      rows.push({
        innodb_flush_log_at_trx_commit: flush,
        kind: name,
        'MariaDB µs each': Math.round(((spent?.cpuMs ?? 0) * 1000) / values.count),
        'wall µs each': Math.round((wallMs * 1000) / values.count),
      });
    }
  }
  console.table(rows);
  await store.close();
} finally {
  await mariadb.destroy();
}
