import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import { RedisPresence } from '../../src/redis/redis-presence.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { presenceContract } from '../contract/presence-contract.js';

const logger = createLogger('silent');
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}:`;

/** Presence on two "nodes" a and b sharing one fresh key prefix (and one clock), and a raw client. */
async function twoPresences(
  ttlMs: number,
  { clock = systemClock, url = inject('redisUrl') }: { clock?: Clock; url?: string } = {},
): Promise<{ keys: RedisKeys; a: RedisPresence; b: RedisPresence; probe: Redis }> {
  const keys = new RedisKeys(prefix());
  const a = new RedisPresence({ url, keys, nodeId: 'a', ttlMs, logger, clock });
  const b = new RedisPresence({ url, keys, nodeId: 'b', ttlMs, logger, clock });
  await Promise.all([a.connect(), b.connect()]);
  const probe = new Redis(url);
  opened.push(probe);
  return { keys, a, b, probe };
}

const opened: Redis[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.disconnect();
});

presenceContract('redis', async () => {
  const { a, b } = await twoPresences(5000);
  return [a, b];
});

describe('Redis presence leases', () => {
  it('gives every lease the TTL, so the users of a node that dies without cleaning up expire', async () => {
    const { keys, a, b, probe } = await twoPresences(1000);
    await a.attach(1, 's1');
    await b.attach(2, 's2');
    const ttls = await Promise.all([probe.pttl(keys.presence(1)), probe.pttl(keys.presence(2))]);
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1000);
    }
    expect(await a.liveNodes()).toEqual(expect.arrayContaining(['a', 'b']));
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a claim by an older attempt of the lease holder in one step, leaving the lease as it was', async () => {
    const now = 1_700_000_000_000;
    const { keys, a, b, probe } = await twoPresences(5000, { clock: { now: () => now } });
    expect(await b.attach(5, 'live', { cid: 'c/1', attempt: 6 })).toBe(true);
    // The lease: node, session, URI-encoded cid, attempt, attach time.
    expect(await probe.get(keys.presence(5))).toBe(`b/live/c%2F1/6/${now}`);
    // Attempt 5 of the same client instance reached node a late: refused, the lease untouched.
    expect(await a.attach(5, 'stale', { cid: 'c/1', attempt: 5 })).toBe(false);
    expect(await probe.get(keys.presence(5))).toBe(`b/live/c%2F1/6/${now}`);
    expect(a.localCount).toBe(0);
    // Another device (other cid), or a login that names no client, takes over whatever the attempt.
    expect(await a.attach(5, 'phone', { cid: 'c/2', attempt: 1 })).toBe(true);
    expect(await probe.get(keys.presence(5))).toBe(`a/phone/c%2F2/1/${now}`);
    expect(await b.attach(5, 'plain')).toBe(true);
    expect(await probe.get(keys.presence(5))).toBe(`b/plain/-/0/${now}`);
    await Promise.all([a.close(), b.close()]);
  });

  it('ends a session whose lease a newer session elsewhere took while this node did not hear of it', async () => {
    const { keys, a, b, probe } = await twoPresences(900);
    const superseded = new Promise<[number, string]>((resolve) =>
      a.onSuperseded((userId, sessionId) => resolve([userId, sessionId])),
    );
    await a.attach(7, 'old');
    await a.attach(8, 'kept');
    // a missed the takeover (say it was unplugged): b's newer session of user 7 holds the lease now.
    await b.attach(7, 'new');
    // a's next heartbeat (every ttl/3) must not overwrite it, and reports its own session superseded.
    expect(await superseded).toEqual([7, 'old']);
    expect(await probe.get(keys.presence(7))).toMatch(/^b\/new\/-\/0\/\d+$/);
    expect(await probe.get(keys.presence(8))).toMatch(/^a\/kept\/-\/0\/\d+$/);
    await Promise.all([a.close(), b.close()]);
  });

  it('after a Redis restart, a stale session that renews first does not displace the live one', async () => {
    // The attach times decide which session is newer: the clock moves only when the test says so.
    let now = Date.now();
    const { keys, a, b, probe } = await twoPresences(900, { clock: { now: () => now } });
    let liveSuperseded = false;
    b.onSuperseded(() => (liveSuperseded = true));
    const staleSuperseded = new Promise<string>((resolve) =>
      a.onSuperseded((_, sessionId) => resolve(sessionId)),
    );
    await a.attach(9, 'stale'); // node a was cut off and never heard of the newer session below
    const staleLease = (await probe.get(keys.presence(9)))!;
    now += 1;
    await b.attach(9, 'live');
    // Redis restarted, and a's heartbeat happened to come first: its stale lease is back.
    await probe.set(keys.presence(9), staleLease, 'PX', 900);
    expect(await staleSuperseded).toBe('stale');
    expect(await probe.get(keys.presence(9))).toMatch(/^b\/live\//);
    expect(liveSuperseded).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('Redis presence while Redis is away', () => {
  let redis: RedisServer;
  beforeAll(async () => (redis = await RedisServer.start()));
  afterAll(() => redis.destroy());

  it('attaches anyway, answers from its own sessions, and writes the lease when Redis returns', async () => {
    const { keys, a, b, probe } = await twoPresences(900, { url: redis.url });
    await b.attach(2, 'elsewhere');
    await redis.stop();
    // The claim cannot be written: the login goes on, and this node still counts its own users.
    expect(await a.attach(1, 'offline-login')).toBe(true);
    expect(await a.onlineAmong([1, 2])).toEqual(new Set([1]));
    await redis.resume();
    // The empty restarted Redis gets both nodes' leases from their heartbeats (on reconnect, then every
    // ttl/3).
    await vi.waitFor(
      async () =>
        expect(await probe.mget(keys.presence(1), keys.presence(2))).toEqual([
          expect.stringMatching(/^a\/offline-login\//),
          expect.stringMatching(/^b\/elsewhere\//),
        ]),
      { timeout: 5000, interval: 50 },
    );
    expect(await b.onlineAmong([1, 2])).toEqual(new Set([1, 2]));
    await Promise.all([a.close(), b.close()]);
  });
});
