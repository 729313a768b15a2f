/**
 * Benchmark (not a test): the MySQL store. Inbox appends per second for 1:1 messages and for a 50-member
 * group, password logins per second (bcrypt) and token resumes per second, for each pool size given.
 * Starts a private MariaDB unless MYSQL_URL names a database to use (it must be empty and migrated).
 *
 *   npm run bench:store -- --pools 4,10,20 --seconds 5 --concurrency 64
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

const ackedCosts: { pool: number; ackFailures: number; costs: Record<string, string> }[] = [];
const mariadb = process.env.MYSQL_URL ? undefined : await MariaDb.start();
try {
  const rows = [];
  for (const pool of values.pools.split(',').map(Number))
    rows.push(await benchPool(process.env.MYSQL_URL ?? '', mariadb, pool));
  console.log(
    `seconds per phase: ${seconds}, concurrency: ${concurrency}, bcrypt cost: ${values['bcrypt-cost']}`,
  );
  console.table(rows);
  for (const { pool, ackFailures, costs } of ackedCosts)
    console.log(`acked appends, pool ${pool}: ${ackFailures} failed acks; per message:`, costs);
} finally {
  await mariadb?.destroy();
}
