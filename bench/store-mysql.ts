/**
 * Benchmark (not a test): the MySQL store. Inbox appends per second for 1:1 messages and for a 50-member
 * group, password logins per second (bcrypt) and token resumes per second, for each pool size given.
 * Starts a private MariaDB unless MYSQL_URL names a database to use (it must be empty and migrated).
 *
 *   npm run bench:store -- --pools 4,10,20 --seconds 5 --concurrency 64
 *   npm run bench:store -- --writer-only --batches 5,30,500 --writers-batch 30   (MariaDB CPU per stored message)
 */
import '../src/require-node.js';
import { createLogger } from '../src/logger.js';
import { loadMigrations, migrate } from '../src/model/migrator.js';
import { Database } from '../src/model/mysql-database.js';
import { createMysqlStore } from '../src/model/mysql-store.js';
import { MIGRATIONS_DIR } from '../src/model/open-mysql-store.js';
import { MemoryAttemptLimits } from '../src/embedded/memory-attempt-limits.js';
import { LoginGuard } from '../src/service/login-guard.js';
import { PasswordAdmission } from '../src/service/password-admission.js';
import { MemoryCredentialCache } from '../src/embedded/memory-credential-cache.js';
import { AuthService } from '../src/service/auth-service.js';
import { createBcryptHasher } from '../src/service/password-hasher.js';
import type { ChatStore, UserRecord } from '../src/service/ports.js';
import { systemClock } from '../src/util/clock.js';
import { SessionTokens } from '../src/service/session-tokens.js';
import { MariaDb } from '../scripts/lib/mariadb.js';
import { costPer, ProcessCost } from './lib/process-cost.js';
import { runCommandLine } from '../src/util/command-line.js';
import { randomUUID } from 'node:crypto';
import type { AppendRequest } from '../src/model/append-batcher.js';
import { MysqlAppendWriter } from '../src/model/mysql-append-sql.js';
import { MysqlMessageReads } from '../src/model/mysql-message-reads.js';
import { MysqlNameCache } from '../src/model/mysql-name-cache.js';

const { values } = runCommandLine({
  name: 'bench:store',
  usage: 'npm run bench:store -- [options]',
  summary: `Benchmark (not a test): the MySQL store. Inbox appends per second for 1:1 messages and for a
50-member group, password logins per second (bcrypt) and token resumes per second, for each pool size
given. Starts a private MariaDB (mariadb-server) unless MYSQL_URL names a database to use.`,
  options: {
    pools: { type: 'string', value: '<n,n,…>', default: '4,10,20', description: 'pool sizes to measure' },
    seconds: { type: 'number', value: '<s>', default: 5, description: 'each phase' },
    concurrency: { type: 'integer', default: 64, description: 'requests in flight' },
    'bcrypt-cost': { type: 'integer', default: 10, description: 'bcrypt cost of the login phase' },
    batches: {
      type: 'string',
      value: '<n,n,…>',
      default: '5,30,500',
      description: 'batch sizes of the writer phase (batches written back to back by one writer)',
    },
    'writers-batch': {
      type: 'integer',
      default: 30,
      description: 'batch size of the two-writer phase (two pools, overlapping recipients)',
    },
    cmid: { type: 'boolean', description: 'give every message of the writer phases a cmid' },
    rates: {
      type: 'string',
      value: '<n,n,…>',
      default: '3000',
      description:
        'phases through the store (its batcher): appends offered per second, 0 for a closed loop of --concurrency senders',
    },
    'in-flight': {
      type: 'integer',
      default: 2,
      description: 'batches committing at once in the open-loop phases (MessageStoreTuning.maxInFlight)',
    },
    'min-overlap': {
      type: 'integer',
      default: 32,
      description:
        'queued appends before a batch overlaps one committing (MessageStoreTuning.minOverlappingBatch)',
    },
    'drop-index': {
      type: 'string',
      value: '<name>',
      description: 'drop this index of the message table before the writer phases (what does it cost?)',
    },
    'writer-only': {
      type: 'boolean',
      description: 'only the writer phases (MariaDB CPU per stored message), no pool phases',
    },
  },
  env: [['MYSQL_URL', 'use this database (empty and migrated) instead of a private MariaDB']],
});
const seconds = values.seconds;
const concurrency = values.concurrency;

/** Runs `op` from `concurrency` workers for `seconds`; returns completed operations per second. */
async function rate(op: (worker: number, i: number) => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await op(worker, i);
        done++;
      }
    }),
  );
  return Math.round(done / ((performance.now() - start) / 1000));
}

async function benchPool(
  rootUrl: string,
  mariadb: MariaDb | undefined,
  pool: number,
): Promise<Record<string, number>> {
  const url = mariadb ? await mariadb.createDatabase('bench') : rootUrl;
  const db = new Database({
    url,
    poolSize: pool,
    acquireTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    logger: createLogger('warn'),
  });
  await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  const store: ChatStore = createMysqlStore(db, systemClock);
  const hasher = createBcryptHasher(values['bcrypt-cost']);
  const auth = new AuthService(
    store.users,
    hasher,
    new SessionTokens('bench-secret-0123456789', 3_600_000, systemClock),
    new LoginGuard(new MemoryAttemptLimits(), {
      loginsPerIpPerMin: 1e9,
      registrationsPerIpPerHour: 1e9,
      freeFailures: 1000,
      backoffMaxS: 1,
      accountFailuresBeforeDelay: 1e9,
      accountDelayMs: 0,
    }),
    new PasswordAdmission({ concurrency: 4, queue: 1e6, perIp: 1e6 }),
    // Off: this phase measures bcrypt-bound logins.
    new MemoryCredentialCache({ ttlMs: 0, max: 1 }, systemClock),
    store.messages,
  );

  const users: UserRecord[] = [];
  for (let i = 0; i < 200; i++) users.push(await store.users.create(`user${i}`, await hasher.hash('pw')));
  const group = await store.groups.create(users[0]!.id, 'fifty', '');
  for (const member of users.slice(1, 50)) await store.groups.addMember(group.id, member.id);
  const members = users.slice(1, 50).map((u) => u.id);

  /** A 1:1 message from worker's user to a different user each time. */
  const appendDirect = (worker: number, i: number) => {
    const to = users[(worker * 7 + i + 1) % users.length]!.id;
    return store.messages.append(
      {
        senderId: users[worker % users.length]!.id,
        target: { kind: 'user', id: to },
        body: 'benchmark message body',
        clientTime: 't',
        cmid: null,
      },
      [to],
    );
  };
  const direct = await rate(appendDirect);
  // As in the cluster: every delivery acked by its recipient (acks coalesce into one UPDATE per flush and
  // acked inbox rows are pruned), with the cost per message of MariaDB and of this process.
  const cost = ProcessCost.start({ mariadb: mariadb?.pid ? [mariadb.pid] : [], client: [process.pid] });
  let ackedMessages = 0;
  let ackFailures = 0;
  const acked = await rate(async (worker, i) => {
    const result = await appendDirect(worker, i);
    for (const delivery of result.deliveries)
      store.messages.ack(delivery.userId, 'bench', delivery.seq).catch(() => ackFailures++);
    ackedMessages++;
  });
  ackedCosts.push({ pool, ackFailures, costs: costPer(await cost.stop(), Math.max(1, ackedMessages)) });
  const groupMessages = await rate(() =>
    store.messages.append(
      {
        senderId: users[0]!.id,
        target: { kind: 'group', id: group.id },
        body: 'group message',
        clientTime: 't',
        cmid: null,
      },
      members,
    ),
  );
  const logins = await rate((worker) =>
    auth.login({ id: users[worker % users.length]!.id }, 'pw', '127.0.0.1'),
  );
  const tokens = await Promise.all(
    users.map(async (u) =>
      auth.issueToken(u, 'bench', (await store.messages.openDevice(u.id, 'bench')).epoch),
    ),
  );
  const resumes = await rate((worker, i) => auth.resume(tokens[(worker + i) % tokens.length]!));
  await store.close();
  return {
    pool,
    directAppendsPerS: direct,
    ackedAppendsPerS: acked,
    groupAppendsPerS: groupMessages,
    groupInboxEntriesPerS: groupMessages * 49,
    loginsPerS: logins,
    resumesPerS: resumes,
  };
}

/** One writer phase's figures: messages per second and MariaDB's (and this process's) CPU per message. */
interface WriterFigures {
  readonly phase: string;
  readonly messagesPerS: number;
  readonly mariadbUsPerMessage: number;
  readonly clientUsPerMessage: number;
  /** Deadlocks InnoDB reported during the phase (each cost a retried batch). */
  readonly deadlocks: number;
}

/**
 * The store's cost per stored message at a fixed batch size, without the batcher: batches of `size` 1:1
 * messages (each to a random one of 200 users) written back to back through `MysqlAppendWriter.write`, by
 * `writers` writers on pools of their own (two pools stand for two nodes: overlapping recipients, so their
 * counter rows contend). MariaDB's CPU comes from /proc (and perf when it works).
 */
async function benchWriter(url: string, size: number, writers: number): Promise<WriterFigures> {
  const dbs = Array.from(
    { length: writers },
    () =>
      new Database({
        url,
        poolSize: 2,
        acquireTimeoutMs: 30_000,
        connectTimeoutMs: 5000,
        logger: createLogger('warn'),
      }),
  );
  const users = await userIds(dbs[0]!);
  const writerOf = (db: Database) =>
    new MysqlAppendWriter(db, systemClock, new MysqlNameCache(), new MysqlMessageReads(db));
  const batchOf = (writer: number, n: number): AppendRequest[] =>
    Array.from({ length: size }, (_, k) => {
      const from = users[(writer * 101 + n * size + k) % users.length]!;
      const to = users[Math.floor(Math.random() * users.length)]!;
      return {
        draft: {
          senderId: from,
          target: { kind: 'user', id: to },
          body: 'benchmark message body',
          clientTime: '2026-11-27 12:00:00',
          cmid: values.cmid ? randomUUID() : null,
        },
        recipients: [to],
      };
    });
  // Warm-up, one second: connections, the JIT, the name cache, buffer pool pages.
  const warm = performance.now() + 1000;
  await Promise.all(
    dbs.map(async (db, w) => {
      const writer = writerOf(db);
      while (performance.now() < warm) await writer.write(batchOf(w, 0));
    }),
  );
  const deadlocksBefore = await deadlockCount(dbs[0]!);
  const cost = ProcessCost.start({ mariadb: mariadb?.pid ? [mariadb.pid] : [], client: [process.pid] });
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let messages = 0;
  await Promise.all(
    dbs.map(async (db, w) => {
      const writer = writerOf(db);
      for (let n = 1; performance.now() < deadline; n++) {
        await writer.write(batchOf(w, n));
        messages += size;
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  const costs = await cost.stop();
  const deadlocks = (await deadlockCount(dbs[0]!)) - deadlocksBefore;
  await Promise.all(dbs.map((db) => db.close()));
  const mariadbCost = costs.mariadb;
  return {
    phase: writers === 1 ? `batch ${size}` : `${writers} writers, batch ${size}`,
    messagesPerS: Math.round(messages / elapsedS),
    mariadbUsPerMessage: Number((((mariadbCost?.cpuMs ?? 0) * 1000) / messages).toFixed(1)),
    clientUsPerMessage: Number((((costs.client?.cpuMs ?? 0) * 1000) / messages).toFixed(1)),
    deadlocks,
  };
}

/** InnoDB's deadlock counter (MariaDB's `Innodb_deadlocks`; 0 where the server has no such variable). */
async function deadlockCount(db: Database): Promise<number> {
  const rows = await db.query<{ Value: string }[]>("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'");
  return Number(rows[0]?.Value ?? 0);
}

/** 200 users to send between (created once per database). */
async function userIds(db: Database): Promise<number[]> {
  const existing = await db.query<{ id: number }[]>('SELECT id FROM user ORDER BY id LIMIT 200');
  if (existing.length === 200) return existing.map((row) => row.id);
  const store = createMysqlStore(db, systemClock);
  const ids: number[] = [];
  for (let i = 0; i < 200; i++) ids.push((await store.users.create(`writer${i}`, 'not-a-hash')).id);
  return ids;
}

/**
 * Through the store (batcher and all), 1:1 appends each to a random one of 200 users for `seconds`: an
 * open loop offering `rate` per second, or with `rate` 0 a closed loop of `concurrency` senders; MariaDB's
 * CPU per message and the append latency percentiles.
 */
async function benchOpenLoop(
  url: string,
  rate: number,
): Promise<WriterFigures & { p50Ms: number; p99Ms: number }> {
  const db = new Database({
    url,
    poolSize: 10,
    acquireTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    logger: createLogger('warn'),
  });
  const store = createMysqlStore(db, systemClock, {
    maxInFlight: values['in-flight'],
    minOverlappingBatch: values['min-overlap'],
  });
  const users = await userIds(db);
  const send = () => {
    const to = users[Math.floor(Math.random() * users.length)]!;
    return store.messages.append(
      {
        senderId: users[Math.floor(Math.random() * users.length)]!,
        target: { kind: 'user', id: to },
        body: 'benchmark message body',
        clientTime: '2026-11-27 12:00:00',
        cmid: values.cmid ? randomUUID() : null,
      },
      [to],
    );
  };
  for (let i = 0; i < 200; i++) await send(); // warm-up
  const latencies: number[] = [];
  const pending: Promise<unknown>[] = [];
  const deadlocksBefore = await deadlockCount(db);
  const cost = ProcessCost.start({ mariadb: mariadb?.pid ? [mariadb.pid] : [], client: [process.pid] });
  const start = performance.now();
  let sent = 0;
  if (rate === 0)
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() - start < seconds * 1000) {
          sent++;
          const at = performance.now();
          await send();
          latencies.push(performance.now() - at);
        }
      }),
    );
  while (rate > 0 && performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const at = performance.now();
      pending.push(send().then(() => latencies.push(performance.now() - at)));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - start) / 1000;
  const costs = await cost.stop();
  const deadlocks = (await deadlockCount(db)) - deadlocksBefore;
  await store.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number(latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(2));
  return {
    phase: `${rate > 0 ? `open loop ${rate}/s` : `closed loop ×${concurrency}`}, ${values['in-flight']} in flight, overlap ≥ ${values['min-overlap']}`,
    messagesPerS: Math.round(sent / elapsedS),
    mariadbUsPerMessage: Number((((costs.mariadb?.cpuMs ?? 0) * 1000) / sent).toFixed(1)),
    clientUsPerMessage: Number((((costs.client?.cpuMs ?? 0) * 1000) / sent).toFixed(1)),
    deadlocks,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** The writer phases on a fresh database: each batch size alone, then two writers at once. */
async function benchWriters(rootUrl: string): Promise<WriterFigures[]> {
  const url = mariadb ? await mariadb.createDatabase('writer') : rootUrl;
  const db = new Database({
    url,
    poolSize: 1,
    acquireTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    logger: createLogger('warn'),
  });
  await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  await userIds(db);
  const dropIndex = values['drop-index'];
  if (dropIndex !== undefined) {
    if (!/^\w+$/.test(dropIndex)) throw new Error('--drop-index: an index name, letters, digits and _');
    await db.query(`ALTER TABLE message DROP INDEX ${dropIndex}`);
  }
  await db.close();
  const figures: WriterFigures[] = [];
  for (const size of values.batches.split(',').map(Number)) figures.push(await benchWriter(url, size, 1));
  figures.push(await benchWriter(url, values['writers-batch'], 2));
  for (const rate of values.rates.split(',').filter(Boolean).map(Number))
    figures.push(await benchOpenLoop(url, rate));
  return figures;
}

const ackedCosts: { pool: number; ackFailures: number; costs: Record<string, string> }[] = [];
const mariadb = process.env.MYSQL_URL ? undefined : await MariaDb.start();
try {
  const rows = [];
  if (!values['writer-only'])
    for (const pool of values.pools.split(',').map(Number))
      rows.push(await benchPool(process.env.MYSQL_URL ?? '', mariadb, pool));
  const writerRows = await benchWriters(process.env.MYSQL_URL ?? '');
  console.log(
    `seconds per phase: ${seconds}, concurrency: ${concurrency}, bcrypt cost: ${values['bcrypt-cost']}`,
  );
  if (rows.length > 0) console.table(rows);
  for (const { pool, ackFailures, costs } of ackedCosts)
    console.log(`acked appends, pool ${pool}: ${ackFailures} failed acks; per message:`, costs);
  console.log(`writer phases (cmid: ${values.cmid ? 'yes' : 'none'}):`);
  console.table(writerRows);
} finally {
  await mariadb?.destroy();
}
