import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { MariaDb } from '../../scripts/lib/mariadb.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { LineClient, type Frame } from '../helpers/line-client.js';
import { startTestApp } from '../helpers/test-app.js';

// Limits per address and per (account, address) hold across the cluster: two nodes sharing MySQL and
// Redis, clients "behind" a load balancer played by the test (PROXY headers from 127.0.0.1).

let mariadb: MariaDb;
let redis: RedisServer;
let nodes: RunningApp[];

beforeAll(async () => {
  [mariadb, redis] = await Promise.all([MariaDb.start(), RedisServer.start()]);
  const env = {
    MYSQL_URL: await mariadb.createDatabase(),
    REDIS_URL: redis.url,
    REDIS_PREFIX: `limits-${Date.now()}:`,
    MIGRATE: 'auto',
    SESSION_SECRET: 'a-shared-secret-of-enough-length',
    TRUSTED_PROXIES: '127.0.0.1',
    LOGIN_PER_IP_PER_MIN: '6',
    REGISTER_PER_IP_PER_HOUR: '3',
    LOGIN_FREE_FAILURES: '3',
  };
  const first = await startTestApp({ ...env, NODE_ID: 'limits-1' });
  nodes = [first, await startTestApp({ ...env, NODE_ID: 'limits-2' })];
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await Promise.all([mariadb.destroy(), redis.destroy()]);
});

/** One request from `ip` through node `n`; resolves with its reply. */
async function ask(n: number, ip: string, frame: Frame, replyMsgid: number): Promise<Frame> {
  const port = nodes[n]!.chatPort;
  const client = await LineClient.open(port);
  client.write(`PROXY TCP4 ${ip} 127.0.0.1 40000 ${port}\r\n`);
  client.sendNul(frame);
  const reply = await client.nextOf(replyMsgid);
  client.close();
  return reply;
}

describe('abuse limits across two nodes', () => {
  it('counts registrations per address cluster-wide', async () => {
    const ip = '198.51.100.10';
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await ask(i % 2, ip, { msgid: 4, name: `reg-${i}`, password: 'pw' }, 5));
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 1]);
    expect(results[3]).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    // Another address is not affected.
    expect(await ask(1, '198.51.100.11', { msgid: 4, name: 'reg-other', password: 'pw' }, 5)).toMatchObject({
      errno: 0,
    });
  });

  it("backs off a stranger's guesses on every node, while the owner logs in from elsewhere", async () => {
    const { id } = await ask(0, '203.0.113.1', { msgid: 4, name: 'owner', password: 'right' }, 5);
    const stranger = '198.51.100.20';
    for (let i = 0; i < 3; i++) {
      expect(await ask(i % 2, stranger, { msgid: 1, id, password: `guess${i}` }, 2)).toMatchObject({
        errno: 1,
      });
    }
    // Blocked on both nodes, even with the right password.
    for (const n of [0, 1]) {
      expect(await ask(n, stranger, { msgid: 1, id, password: 'right' }, 2)).toMatchObject({
        code: 'RATE_LIMITED',
      });
    }
    // The owner, from another address, on either node.
    for (const n of [0, 1]) {
      expect(await ask(n, '203.0.113.1', { msgid: 1, id, password: 'right' }, 2)).toMatchObject({
        errno: 0,
        id,
      });
    }
  });

  it('counts password logins per address per minute cluster-wide', async () => {
    const { id } = await ask(1, '203.0.113.30', { msgid: 4, name: 'busy', password: 'pw' }, 5);
    const ip = '198.51.100.30';
    const replies = [];
    for (let i = 0; i < 7; i++) replies.push(await ask(i % 2, ip, { msgid: 1, id, password: 'pw' }, 2));
    expect(replies.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 0, 40]);
  });
});
