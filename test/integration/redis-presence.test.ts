import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import { RedisPresence, type RedisPresenceOptions } from '../../src/redis/redis-presence.js';
import type { PresenceChange } from '../../src/service/ports.js';
import { systemClock } from '../../src/util/clock.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { presenceContract } from '../contract/presence-contract.js';

const logger = createLogger('silent');
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}:`;
const attachOptions = { hidden: false, maxDevices: 10 };

type NodeOptions = Partial<Omit<RedisPresenceOptions, 'keys' | 'nodeId' | 'logger'>>;

/** Nodes of one cluster on a fresh key prefix, a raw client, and every change any node reported. */
function cluster({ ttlMs = 1000, url = inject('redisUrl'), ...rest }: NodeOptions = {}) {
  const keys = new RedisKeys(prefix());
  const changes: (PresenceChange & { node: string })[] = [];
  let count = 0;
  const node = async (nodeId = `n${++count}`, extra: NodeOptions = {}): Promise<RedisPresence> => {
    const presence = new RedisPresence({
      url,
      keys,
      nodeId,
      ttlMs,
      logger,
      clock: systemClock,
      ...rest,
      ...extra,
    });
    presence.onChange((change) => changes.push({ ...change, node: nodeId }));
    opened.push(presence);
    await presence.connect();
    return presence;
  };
  const probe = new Redis(url);
  probes.push(probe);
  return { keys, node, probe, changes };
}

const opened: RedisPresence[] = [];
const probes: Redis[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((presence) => presence.close()));
  for (const client of probes.splice(0)) client.disconnect();
});

presenceContract(
  'redis',
  async () => {
    const { node } = cluster({ ttlMs: 1000 });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    return {
      a,
      b,
      mortal: {
        ttlMs: 1000,
        node: () => node(),
        crash: (n) => (n as RedisPresence).abandon(),
        sweep: (n) => (n as RedisPresence).sweep(),
      },
    };
  },
  { expiring: true },
);

describe('Redis presence leases', () => {
  it('keeps one hash per user: a lease per device with its deadline, and the user in the expiry set', async () => {
    const now = 1_700_000_000_000;
    const { keys, node, probe } = cluster({ ttlMs: 1000, clock: { now: () => now } });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    await a.attach(5, 'laptop', 'live', { ...attachOptions, origin: { cid: 'c/1', attempt: 6 } });
    await b.attach(5, 'phone', 'p1', attachOptions);
    const hash = await probe.hgetall(keys.presence(5));
    // Deadline (Redis time), node, session, URI-encoded cid, attempt, attach time (the node's clock).
    expect(hash).toEqual({
      'd:laptop': expect.stringMatching(new RegExp(`^\\d+ a/live/c%2F1/6/${now}$`)),
      'd:phone': expect.stringMatching(new RegExp(`^\\d+ b/p1/-/0/${now}$`)),
    });
    const [seconds, micros] = await probe.time();
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const deadline = Number(hash['d:phone']!.split(' ')[0]);
    expect(deadline - redisNow).toBeGreaterThan(0);
    expect(deadline - redisNow).toBeLessThanOrEqual(1000);
    expect(Number(await probe.zscore(keys.presenceExpiry, '5'))).toBeGreaterThanOrEqual(deadline);
    // The record outlives the leases (it keeps lastSeen), but not forever.
    const pttl = await probe.pttl(keys.presence(5));
    expect(pttl).toBeGreaterThan(29 * 24 * 3600 * 1000);
    expect(await a.liveNodes()).toEqual(expect.arrayContaining(['a', 'b']));
    // Refused claims leave the lease as it was.
    const before = await probe.hget(keys.presence(5), 'd:laptop');
    expect(
      await b.attach(5, 'laptop', 'stale', { ...attachOptions, origin: { cid: 'c/1', attempt: 5 } }),
    ).toBe('stale');
    expect(await b.attach(5, 'tablet', 's', { ...attachOptions, maxDevices: 2 })).toBe('too-many-devices');
    expect(await probe.hget(keys.presence(5), 'd:laptop')).toBe(before);
    expect(await probe.hexists(keys.presence(5), 'd:tablet')).toBe(0);
    expect(b.localCount).toBe(1);
    // The last device out leaves the record with lastSeen, and the user out of the expiry set.
    await a.detach(5, 'laptop', 'live');
    await b.detach(5, 'phone', 'p1');
    expect(await probe.hgetall(keys.presence(5))).toEqual({ s: expect.stringMatching(/^\d+$/) });
    expect(await probe.zscore(keys.presenceExpiry, '5')).toBeNull();
  });

  it('ends a session whose device a newer session elsewhere took while this node did not hear of it', async () => {
    const { keys, node, probe } = cluster({ ttlMs: 900 });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    const superseded = new Promise<[number, string, string]>((resolve) =>
      a.onSuperseded((userId, device, sessionId) => resolve([userId, device, sessionId])),
    );
    await a.attach(7, 'laptop', 'old', attachOptions);
    await a.attach(7, 'phone', 'kept', attachOptions);
    // a missed the takeover (say it was unplugged): b's newer session of 7's laptop holds the lease now.
    await b.attach(7, 'laptop', 'new', attachOptions);
    // a's next heartbeat (every ttl/3) must not overwrite it, and reports its own session superseded.
    expect(await superseded).toEqual([7, 'laptop', 'old']);
    expect(await probe.hget(keys.presence(7), 'd:laptop')).toMatch(/^\d+ b\/new\/-\/0\/\d+$/);
    expect(await probe.hget(keys.presence(7), 'd:phone')).toMatch(/^\d+ a\/kept\/-\/0\/\d+$/);
    expect(a.localCount).toBe(1);
  });

  it('after a Redis restart, a stale session that renews first does not displace the live one', async () => {
    // The attach times decide which session is newer: the clock moves only when the test says so.
    let now = Date.now();
    const { keys, node, probe } = cluster({ ttlMs: 900, clock: { now: () => now } });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    let liveSuperseded = false;
    b.onSuperseded(() => (liveSuperseded = true));
    const staleSuperseded = new Promise<string>((resolve) =>
      a.onSuperseded((_, __, sessionId) => resolve(sessionId)),
    );
    await a.attach(9, 'd', 'stale', attachOptions); // node a was cut off and never heard of the newer one
    const staleLease = (await probe.hget(keys.presence(9), 'd:d'))!;
    now += 1;
    await b.attach(9, 'd', 'live', attachOptions);
    // Redis restarted, and a's heartbeat happened to come first: its stale lease is back.
    await probe.del(keys.presence(9));
    await probe.hset(keys.presence(9), 'd:d', staleLease);
    expect(await staleSuperseded).toBe('stale');
    expect(await probe.hget(keys.presence(9), 'd:d')).toMatch(/^\d+ b\/live\//);
    expect(liveSuperseded).toBe(false);
  });

  it('reports online again from the heartbeat of a node whose users were swept while it was cut off', async () => {
    const { keys, node, probe, changes } = cluster({ ttlMs: 900 });
    // Node "cutoff" renews and sweeps only when the test says so (a long TTL: timers every 20 s).
    const [a, b] = await Promise.all([node('cutoff', { ttlMs: 60_000 }), node('b')]);
    await a.attach(3, 'd', 's', attachOptions);
    // As if a's renewals had not reached Redis for a TTL: the lease's deadline passed.
    const lease = (await probe.hget(keys.presence(3), 'd:d'))!;
    await probe.hset(keys.presence(3), 'd:d', lease.replace(/^\d+/, '1'));
    await probe.zadd(keys.presenceExpiry, 1, '3');
    expect(await b.sweep()).toBe(1);
    expect((await a.viewsOf([3])).get(3)?.state).toBe('offline');
    // a reconnects (its connection cut), and its heartbeat on 'ready' finds the user reported offline.
    const clients = (await probe.client('LIST')) as string;
    const id = /id=(\d+) .*name=parley-presence-cutoff /.exec(clients)?.[1];
    await probe.client('KILL', 'ID', id!);
    await vi.waitFor(() => expect(changes).toHaveLength(3), { timeout: 5000, interval: 20 });
    expect(changes.map((c) => [c.node, c.view.state])).toEqual([
      ['cutoff', 'online'],
      ['b', 'offline'],
      ['cutoff', 'online'],
    ]);
    expect((await b.viewsOf([3])).get(3)).toEqual({ state: 'online', lastSeen: null });
  });

  it('sweeps in bounded rounds: every expired user reported once by one call', async () => {
    const { keys, node, probe, changes } = cluster({
      ttlMs: 1000,
      sweepBatch: 10,
      sweepIntervalMs: 3_600_000,
    });
    const [a, dead] = await Promise.all([node('a'), node('dead')]);
    const users = Array.from({ length: 35 }, (_, i) => 100 + i);
    await Promise.all(users.map((id) => dead.attach(id, 'd', `s${id}`, attachOptions)));
    dead.abandon();
    // Something that is no user id in the set must not block the rounds: it is dropped.
    await probe.zadd(keys.presenceExpiry, 0, 'junk');
    await new Promise((resolve) => setTimeout(resolve, 1050));
    expect(await a.sweep()).toBe(35);
    expect(await probe.zcard(keys.presenceExpiry)).toBe(0);
    expect(await a.sweep()).toBe(0);
    expect(
      changes
        .filter((c) => c.view.state === 'offline')
        .map((c) => c.userId)
        .sort(),
    ).toEqual(users);
  });

  it('answers the views of 5000 users in one round trip', async () => {
    const { node, probe } = cluster({ ttlMs: 5000 });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    const ids = Array.from({ length: 5000 }, (_, i) => i + 1);
    await Promise.all(
      ids.filter((id) => id % 7 === 0).map((id) => b.attach(id, 'd', `s${id}`, attachOptions)),
    );
    await b.setHidden(14, true);
    const counted = new Redis(probe.options);
    probes.push(counted);
    const monitor = await counted.monitor();
    let commands = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (/^(evalsha|eval)$/i.test(args[0] ?? '')) commands++;
    });
    const views = await a.viewsOf(ids);
    monitor.disconnect();
    expect(views.size).toBe(5000);
    expect([...views].filter(([, v]) => v.state === 'online').map(([id]) => id)).toEqual(
      ids.filter((id) => id % 7 === 0 && id !== 14),
    );
    // 10 chunks of 500 keys in one pipeline (each at most twice: EVALSHA, then EVAL if not loaded yet).
    expect(commands).toBeLessThanOrEqual(20);
  });
});

describe('Redis presence while Redis is away', () => {
  let redis: RedisServer;
  beforeAll(async () => (redis = await RedisServer.start()));
  afterAll(() => redis.destroy());

  it('attaches anyway, answers from its own sessions, and writes the leases when Redis returns', async () => {
    const { keys, node, probe, changes } = cluster({ ttlMs: 900, url: redis.url });
    const [a, b] = await Promise.all([node('a'), node('b')]);
    await b.attach(2, 'd', 'elsewhere', attachOptions);
    await a.attach(3, 'x', 'here', { ...attachOptions, maxDevices: 1 });
    await redis.stop();
    // The claim cannot be written: the login goes on, this node still counts its own users, and it
    // applies the device limit and the stale check to its own sessions.
    expect(await a.attach(1, 'd', 'offline-login', attachOptions)).toBe('attached');
    expect(await a.attach(3, 'y', 'more', { ...attachOptions, maxDevices: 1 })).toBe('too-many-devices');
    expect(await a.onlineAmong([1, 2, 3])).toEqual(new Set([1, 3]));
    expect((await a.viewsOf([1, 2])).get(2)).toEqual({ state: 'offline', lastSeen: null });
    await redis.resume();
    // The empty restarted Redis gets both nodes' leases from their heartbeats (on reconnect, then every
    // ttl/3).
    await vi.waitFor(
      async () =>
        expect(await Promise.all([1, 2, 3].map((id) => probe.hkeys(keys.presence(id))))).toEqual([
          ['d:d'],
          ['d:d'],
          ['d:x'],
        ]),
      { timeout: 5000, interval: 50 },
    );
    expect(await b.onlineAmong([1, 2, 3])).toEqual(new Set([1, 2, 3]));
    // Users 2 and 3 were reported online before the restart and are re-asserted quietly; user 1 came in
    // while Redis was away and is reported now, once.
    expect(changes.map((c) => [c.userId, c.view.state])).toEqual([
      [2, 'online'],
      [3, 'online'],
      [1, 'online'],
    ]);
  });
});
