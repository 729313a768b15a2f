import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { createDatabase } from '../../scripts/lib/mariadb.js';
import { createBcryptHasher } from '../../src/service/password-hasher.js';
import { LineClient, type Frame } from '../helpers/line-client.js';
import { startTestApp } from '../helpers/test-app.js';

// Two real nodes sharing MySQL and Redis: a password verified on one is a cache hit on the other, so a
// repeat login there pays no bcrypt (parley_auth_cache_total counts what each node did).

let nodes: RunningApp[];
let mysqlUrl: string;

beforeAll(async () => {
  mysqlUrl = await createDatabase(inject('mariadbUrl'));
  const env = {
    MYSQL_URL: mysqlUrl,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `authcache-${Date.now()}:`,
    MIGRATE: 'auto',
    SESSION_SECRET: 'a-shared-secret-of-enough-length',
    BCRYPT_COST: '10',
  };
  const first = await startTestApp({ ...env, NODE_ID: 'cache-1' });
  nodes = [first, await startTestApp({ ...env, NODE_ID: 'cache-2' })];
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
});

/** One v1 request through node `n`; resolves with its reply. */
async function ask(n: number, frame: Frame, replyMsgid: number): Promise<Frame> {
  const client = await LineClient.open(nodes[n]!.chatPort);
  client.sendNul(frame);
  const reply = await client.nextOf(replyMsgid);
  client.close();
  return reply;
}

/** parley_auth_cache_total of node `n`, by outcome. */
async function cacheCounts(n: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${nodes[n]!.adminPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, outcome, value] of text.matchAll(/^parley_auth_cache_total\{outcome="(\w+)"\} (\d+)$/gm))
    counts[outcome!] = Number(value);
  return counts;
}

describe('verified-credential cache across two nodes', () => {
  it('lets a repeat login on the other node skip bcrypt; a wrong or changed password pays it', async () => {
    const { id } = await ask(0, { msgid: 4, name: 'repeat', password: 'right-password' }, 5);
    expect(await ask(0, { msgid: 1, id, password: 'right-password' }, 2)).toMatchObject({ errno: 0, id });
    expect(await cacheCounts(0)).toEqual({ hit: 0, miss: 1, unavailable: 0 });

    // The other node never verified this password: it finds the first node's entry in Redis.
    expect(await ask(1, { msgid: 1, id, password: 'right-password' }, 2)).toMatchObject({ errno: 0, id });
    expect(await ask(1, { msgid: 1, id, password: 'right-password' }, 2)).toMatchObject({ errno: 0, id });
    expect(await cacheCounts(1)).toEqual({ hit: 2, miss: 0, unavailable: 0 });

    // A wrong password is a miss and is refused.
    expect(await ask(1, { msgid: 1, id, password: 'wrong-password' }, 2)).toMatchObject({ errno: 1 });
    expect(await cacheCounts(1)).toEqual({ hit: 2, miss: 1, unavailable: 0 });

    // The password changes (a new stored hash): the old password no longer logs in, cache or not.
    const db = await createConnection(mysqlUrl);
    const newHash = await createBcryptHasher(4).hash('new-password');
    await db.execute('UPDATE user SET password = ? WHERE id = ?', [newHash, Number(id)]);
    await db.end();
    expect(await ask(0, { msgid: 1, id, password: 'right-password' }, 2)).toMatchObject({ errno: 1 });
    expect(await ask(1, { msgid: 1, id, password: 'new-password' }, 2)).toMatchObject({ errno: 0, id });
    expect(await ask(0, { msgid: 1, id, password: 'new-password' }, 2)).toMatchObject({ errno: 0, id });
    expect(await cacheCounts(0)).toEqual({ hit: 1, miss: 2, unavailable: 0 });
    expect(await cacheCounts(1)).toEqual({ hit: 2, miss: 2, unavailable: 0 });
  });
});
