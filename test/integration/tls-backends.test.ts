import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient, type ChatMessage } from '../../src/client/parley-client.js';
import { loadConfig } from '../../src/config.js';
import { StartupError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { Database } from '../../src/model/mysql-database.js';
import { openMysqlStore } from '../../src/model/open-mysql-store.js';
import { openRedis } from '../../src/redis/open-redis.js';
import { systemClock } from '../../src/util/clock.js';
import { MariaDb } from '../../scripts/lib/mariadb.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { makeTestCerts, type TestCerts } from '../../scripts/lib/test-certs.js';
import { once } from '../helpers/events.js';
import { runServerToExit } from '../helpers/server-process.js';
import { startTestApp } from '../helpers/test-app.js';
import { readFileSync } from 'node:fs';

// Redis (`--tls-port`, plaintext port off) and MariaDB (`--require-secure-transport`) that speak only TLS,
// with certificates from a private CA made here; `stranger` is another CA that signed none of them.

const logger = createLogger('silent');
let certs: TestCerts;
let stranger: TestCerts;
let redis: RedisServer;
let redisMutual: RedisServer;
let mariadb: MariaDb;
let mysqlUrl: string;

beforeAll(async () => {
  [certs, stranger] = await Promise.all([
    makeTestCerts(),
    makeTestCerts(undefined, { caName: 'Stranger CA' }),
  ]);
  const files = { cert: certs.cert, key: certs.key, ca: certs.ca };
  [redis, redisMutual, mariadb] = await Promise.all([
    RedisServer.start(undefined, {}, { tls: files }),
    RedisServer.start(undefined, {}, { tls: { ...files, authClients: true } }),
    MariaDb.start({}, undefined, { tls: files }),
  ]);
  mysqlUrl = await mariadb.createDatabase();
});
afterAll(async () => {
  await Promise.all([redis?.destroy(), redisMutual?.destroy(), mariadb?.destroy()]);
});

const prefix = () => `tls${Math.random().toString(36).slice(2, 8)}:`;
const config = (env: Record<string, string>) =>
  loadConfig({ MYSQL_URL: 'mysql://unused@127.0.0.1/x', REDIS_PREFIX: prefix(), ...env });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('Redis over TLS (rediss://)', () => {
  it('connects the bus and presence with REDIS_TLS_CA, and leases are written over TLS', async () => {
    expect(redis.url).toMatch(/^rediss:\/\//);
    const { bus, presence, attempts } = await openRedis(
      config({ REDIS_URL: redis.url, REDIS_TLS_CA: certs.ca }),
      logger,
      systemClock,
    );
    try {
      expect(await presence.attach(7, 'd', 's7', { hidden: false, maxDevices: 10 })).toBe('attached');
      expect([...(await presence.onlineAmong([7, 8]))]).toEqual([7]);
      // The attempt limits use TLS too: they count (a limiter that cannot reach Redis lets everything through).
      const window = attempts.window(`tls-${Date.now()}`, 2, 60);
      const states = [];
      for (let i = 0; i < 3; i++) states.push((await window.consume('198.51.100.1')).allowed);
      expect(states).toEqual([true, true, false]);
    } finally {
      await Promise.all([bus.close(), presence.close(), attempts.close()]);
    }
  });

  it('presents a client certificate (REDIS_TLS_CERT/KEY) to a Redis that asks for one', async () => {
    const without = await failure(
      openRedis(config({ REDIS_URL: redisMutual.url, REDIS_TLS_CA: certs.ca }), logger, systemClock),
    );
    expect(without).toBeInstanceOf(StartupError);
    const { bus, presence, attempts } = await openRedis(
      config({
        REDIS_URL: redisMutual.url,
        REDIS_TLS_CA: certs.ca,
        REDIS_TLS_CERT: certs.clientCert,
        REDIS_TLS_KEY: certs.clientKey,
      }),
      logger,
      systemClock,
    );
    expect(await presence.attach(1, 'd', 's1', { hidden: false, maxDevices: 10 })).toBe('attached');
    await Promise.all([bus.close(), presence.close(), attempts.close()]);
  });

  it('stops start-up naming REDIS_TLS_CA when the certificate does not verify', async () => {
    const wrong = await failure(
      openRedis(config({ REDIS_URL: redis.url, REDIS_TLS_CA: stranger.ca }), logger, systemClock),
    );
    expect(wrong).toBeInstanceOf(StartupError);
    expect((wrong as Error).message).toMatch(
      /^REDIS_TLS_CA: the certificate of Redis at rediss:\/\/127\.0\.0\.1:\d+\/? is not signed by the CA in \S+ca\.pem, or not for that host \(\w+\)$/,
    );
    const systemOnly = await failure(openRedis(config({ REDIS_URL: redis.url }), logger, systemClock));
    expect((systemOnly as Error).message).toMatch(
      /^REDIS_TLS_CA: .* did not verify against the system's CAs \(\w+\); set REDIS_TLS_CA/,
    );
    const missing = await failure(
      openRedis(config({ REDIS_URL: redis.url, REDIS_TLS_CA: '/nonexistent/ca.pem' }), logger, systemClock),
    );
    expect((missing as Error).message).toBe('REDIS_TLS_CA: cannot read /nonexistent/ca.pem (ENOENT)');
  });

  it('is TLS only: a plaintext redis:// client on the same port does not get through', async () => {
    const plain = await failure(
      openRedis(config({ REDIS_URL: redis.url.replace('rediss:', 'redis:') }), logger, systemClock),
    );
    expect((plain as Error).message).toMatch(/^REDIS_URL: cannot reach Redis/);
  });
});

describe('MySQL over TLS', () => {
  it('opens the store with MYSQL_TLS_CA (TLS 1.2+ on every pooled connection); plaintext is refused', async () => {
    const store = await openMysqlStore(
      config({ MYSQL_URL: mysqlUrl, MYSQL_TLS_CA: certs.ca, MIGRATE: 'auto' }),
      systemClock,
      logger,
    );
    const id = (await store.users.create('tls-user', 'hash')).id;
    expect((await store.users.findById(id))?.name).toBe('tls-user');
    await store.close();

    const db = new Database({
      url: mysqlUrl,
      tls: { ca: readFileSync(certs.ca) },
      poolSize: 1,
      acquireTimeoutMs: 3000,
      connectTimeoutMs: 3000,
      logger,
    });
    const rows = await db.query<{ Variable_name: string; Value: string }[]>(
      "SHOW SESSION STATUS LIKE 'Ssl_version'",
    );
    expect(rows[0]?.Value).toMatch(/^TLSv1\.[23]$/);
    await db.close();

    const plain = new Database({
      url: mysqlUrl,
      poolSize: 1,
      acquireTimeoutMs: 3000,
      connectTimeoutMs: 3000,
      logger,
    });
    // MariaDB refuses the login of a plaintext connection when TCP requires TLS.
    await expect(plain.probe()).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
  });

  it('stops start-up naming MYSQL_TLS_CA when the certificate does not verify', async () => {
    const wrong = await failure(
      openMysqlStore(config({ MYSQL_URL: mysqlUrl, MYSQL_TLS_CA: stranger.ca }), systemClock, logger),
    );
    expect(wrong).toBeInstanceOf(StartupError);
    expect((wrong as Error).message).toMatch(
      /^MYSQL_TLS_CA: the certificate of the database at mysql:\/\/root@127\.0\.0\.1:\d+\/\w+ is not signed by the CA in /,
    );
    const systemOnly = await failure(
      openMysqlStore(config({ MYSQL_URL: `${mysqlUrl}?ssl=true` }), systemClock, logger),
    );
    expect((systemOnly as Error).message).toMatch(
      /^MYSQL_TLS_CA: .* did not verify against the system's CAs/,
    );
    const bad = await failure(
      openMysqlStore(config({ MYSQL_URL: `${mysqlUrl}?ssl=maybe` }), systemClock, logger),
    );
    expect((bad as Error).message).toBe("MYSQL_URL: ?ssl= must be true or false, not 'maybe'");
  });
});

describe('a node whose Redis and MySQL speak only TLS', () => {
  let app: RunningApp;
  afterAll(() => app?.stop());

  it('serves chat, and a wrong CA makes the process exit 1 naming the variable', async () => {
    const env = {
      MYSQL_URL: mysqlUrl,
      MYSQL_TLS_CA: certs.ca,
      MIGRATE: 'auto',
      REDIS_URL: redis.url,
      REDIS_TLS_CA: certs.ca,
      REDIS_PREFIX: prefix(),
    };
    app = await startTestApp(env);
    const clients = [0, 1].map(
      () => new ParleyClient({ host: '127.0.0.1', port: app.chatPort, transport: 'tcp', reconnect: false }),
    );
    const [a, b] = clients as [ParleyClient, ParleyClient];
    for (const [client, name] of [
      [a, `ta${Date.now()}`],
      [b, `tb${Date.now()}`],
    ] as const) {
      await client.connect();
      await client.register(name, 'pw');
      await client.login({ name }, 'pw');
    }
    const received = once<[ChatMessage]>(b, 'message');
    await a.sendTo(b.user!.id, 'stored over TLS');
    expect((await received)[0]).toMatchObject({ msg: 'stored over TLS' });
    expect(await a.whois(b.user!.name)).toMatchObject({ online: true });
    for (const client of clients) client.close();

    const base = { CHAT_HOST: '127.0.0.1', BCRYPT_COST: '4' };
    const redisWrong = await runServerToExit({ ...base, ...env, REDIS_TLS_CA: stranger.ca });
    expect(redisWrong.code, redisWrong.output).toBe(1);
    expect(redisWrong.output).toMatch(/parley: REDIS_TLS_CA: the certificate of Redis at rediss:/);
    const mysqlWrong = await runServerToExit({ ...base, ...env, MYSQL_TLS_CA: stranger.ca });
    expect(mysqlWrong.code, mysqlWrong.output).toBe(1);
    expect(mysqlWrong.output).toMatch(/parley: MYSQL_TLS_CA: the certificate of the database at mysql:/);
  });
});
