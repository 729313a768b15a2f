import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisBus } from '../../src/redis/redis-bus.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import { RedisPresence } from '../../src/redis/redis-presence.js';
import type { BusEvent } from '../../src/service/ports.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { busContract } from '../contract/bus-contract.js';

const logger = createLogger('silent');
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}:`;

async function bus(url: string, keys: RedisKeys, nodeId: string): Promise<RedisBus> {
  const b = new RedisBus({ url, keys, nodeId, logger });
  await b.connect();
  return b;
}

/** Two nodes' buses sharing a fresh key prefix. */
async function twoNodes(url: string): Promise<{ keys: RedisKeys; a: RedisBus; b: RedisBus }> {
  const keys = new RedisKeys(prefix());
  return { keys, a: await bus(url, keys, 'a'), b: await bus(url, keys, 'b') };
}

/** Presence on two "nodes" a and b sharing one fresh key prefix (and one clock). */
async function twoPresences(
  ttlMs: number,
  clock: Clock = systemClock,
): Promise<{ url: string; keys: RedisKeys; a: RedisPresence; b: RedisPresence }> {
  const url = inject('redisUrl');
  const keys = new RedisKeys(prefix());
  const a = new RedisPresence({ url, keys, nodeId: 'a', ttlMs, logger, clock });
  const b = new RedisPresence({ url, keys, nodeId: 'b', ttlMs, logger, clock });
  await Promise.all([a.connect(), b.connect()]);
  return { url, keys, a, b };
}

busContract('redis', async () => {
  const keys = new RedisKeys(prefix());
  return [await bus(inject('redisUrl'), keys, 'node-a'), await bus(inject('redisUrl'), keys, 'node-b')];
});

const message = {
  id: 1,
  senderId: 1,
  senderName: 'a',
  target: { kind: 'user' as const, id: 2 },
  body: 'x',
  clientTime: 't',
  cmid: null,
  createdAt: 0,
};

function collector(target: RedisBus): { events: BusEvent[]; next: () => Promise<BusEvent> } {
  const events: BusEvent[] = [];
  let waiting: ((e: BusEvent) => void) | undefined;
  target.setHandler((event) => {
    if (waiting) {
      const wake = waiting;
      waiting = undefined;
      wake(event);
    } else events.push(event);
  });
  return {
    events,
    next: () =>
      events.length > 0 ? Promise.resolve(events.shift()!) : new Promise((resolve) => (waiting = resolve)),
  };
}

describe('Redis bus beyond the contract', () => {
  let redis: RedisServer;
  beforeAll(async () => (redis = await RedisServer.start()));
  afterAll(() => redis.destroy());

  it('ignores malformed envelopes and its own echoes', async () => {
    const { keys, a, b } = await twoNodes(redis.url);
    const got = collector(b);
    await b.subscribe(2);
    const raw = await bus(redis.url, keys, 'raw');
    // Published straight to the channel: not JSON, wrong version, wrong user for the channel.
    const { Redis } = await import('ioredis');
    const client = new Redis(redis.url);
    await client.publish(keys.userChannel(2), 'not json');
    await client.publish(
      keys.userChannel(2),
      JSON.stringify({ v: 99, node: 'x', event: { type: 'sync', userId: 2 } }),
    );
    await client.publish(
      keys.userChannel(2),
      JSON.stringify({ v: 1, node: 'x', event: { type: 'sync', userId: 3 } }),
    );
    await a.publish([{ type: 'deliver', userId: 2, seq: 1, message }]);
    expect(await got.next()).toMatchObject({ type: 'deliver', seq: 1 });
    expect(got.events).toEqual([]);
    client.disconnect();
    await Promise.all([a.close(), b.close(), raw.close()]);
  });

  it('sends the publishes of one tick together, in call order, and settles every caller', async () => {
    const { a, b } = await twoNodes(redis.url);
    const got = collector(b);
    await b.subscribe(2);
    await b.subscribe(3);
    const deliver = (userId: number, seq: number): BusEvent => ({ type: 'deliver', userId, seq, message });
    // Three callers in the same tick, one with two events: one pipeline, each promise resolved.
    await Promise.all([
      a.publish([deliver(2, 1)]),
      a.publish([deliver(3, 1), deliver(2, 2)]),
      a.publish([deliver(2, 3)]),
    ]);
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const event = (await got.next()) as Extract<BusEvent, { type: 'deliver' }>;
      seen.push(`${event.userId}:${event.seq}`);
    }
    expect(seen).toEqual(['2:1', '3:1', '2:2', '2:3']);
    await Promise.all([a.close(), b.close()]);
  });

  it('delivers locally while Redis is down, catches up remote nodes when it returns', async () => {
    const { a, b } = await twoNodes(redis.url);
    const atA = collector(a);
    const atB = collector(b);
    let resyncs = 0;
    const resynced = new Promise<void>((resolve) => b.onResync(() => (resyncs++, resolve())));
    await a.subscribe(1);
    await b.subscribe(2);
    await redis.stop();
    // A local recipient still gets its event; a remote one cannot, and publish says so — to every caller
    // of the tick.
    const lost = [
      a.publish([{ type: 'deliver', userId: 2, seq: 5, message }]),
      a.publish([{ type: 'deliver', userId: 2, seq: 6, message }]),
    ];
    const settled = await Promise.allSettled(lost);
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await a.publish([
      { type: 'deliver', userId: 1, seq: 1, message: { ...message, target: { kind: 'user', id: 1 } } },
    ]);
    expect(await atA.next()).toMatchObject({ userId: 1, seq: 1 });
    await redis.resume();
    await resynced;
    expect(resyncs).toBe(1);
    // The user whose event was lost gets a sync poke once the publisher is back.
    expect(await atB.next()).toEqual({ type: 'sync', userId: 2 });
    await Promise.all([a.close(), b.close()]);
  });
});

describe('Redis presence leases', () => {
  it('shows users online across nodes, releases on detach, and expires with a dead node', async () => {
    const { url, keys, a, b } = await twoPresences(1000);
    await a.attach(1, 's1');
    await a.attach(2, 's2');
    expect(await b.onlineAmong([1, 2, 3])).toEqual(new Set([1, 2]));
    await a.detach(2, 's2');
    expect(await b.onlineAmong([2])).toEqual(new Set());
    // A newer session on b owns user 1 now; a's late detach of the old session must not remove it.
    await b.attach(1, 's3');
    await a.detach(1, 's1');
    expect(await a.onlineAmong([1])).toEqual(new Set([1]));
    expect(await a.liveNodes()).toEqual(expect.arrayContaining(['a', 'b']));
    // b "dies" (stops heartbeating without cleaning up): its lease runs out within the TTL.
    const { Redis } = await import('ioredis');
    const probe = new Redis(url);
    const ttl = await probe.pttl(keys.presence(1));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    probe.disconnect();
    await a.close();
    await b.close();
  });

  it('refuses, in one step and without writing, a claim by an older attempt of the lease holder', async () => {
    const { url, keys, a, b } = await twoPresences(5000);
    const { Redis } = await import('ioredis');
    const probe = new Redis(url);
    expect(await b.attach(5, 'live', { cid: 'c/1', attempt: 6 })).toBe(true);
    const live = await probe.get(keys.presence(5));
    // Attempt 5 of the same client instance reached node a late: refused, the lease untouched.
    expect(await a.attach(5, 'stale', { cid: 'c/1', attempt: 5 })).toBe(false);
    expect(await probe.get(keys.presence(5))).toBe(live);
    expect(a.localCount).toBe(0);
    // Another device (other cid), or a login that names no client, takes over whatever the attempt.
    expect(await a.attach(5, 'phone', { cid: 'c/2', attempt: 1 })).toBe(true);
    expect(await probe.get(keys.presence(5))).toMatch(/^a\/phone\/c%2F2\/1\/\d+$/);
    expect(await b.attach(5, 'plain')).toBe(true);
    expect(await probe.get(keys.presence(5))).toMatch(/^b\/plain\/-\/0\/\d+$/);
    // Two attempts racing on two nodes: whichever claims first, the newer ends up holding the lease.
    const [, newer] = await Promise.all([
      a.attach(6, 'older', { cid: 'c/3', attempt: 1 }),
      b.attach(6, 'newer', { cid: 'c/3', attempt: 2 }),
    ]);
    expect(newer).toBe(true);
    expect(await probe.get(keys.presence(6))).toMatch(/^b\/newer\//);
    probe.disconnect();
    await Promise.all([a.close(), b.close()]);
  });

  it('ends a session whose lease a newer session elsewhere took while this node did not hear of it', async () => {
    const { url, keys, a, b } = await twoPresences(900);
    const superseded = new Promise<[number, string]>((resolve) =>
      a.onSuperseded((userId, sessionId) => resolve([userId, sessionId])),
    );
    await a.attach(7, 'old');
    await a.attach(8, 'kept');
    // a missed the takeover (say it was unplugged): b's newer session of user 7 holds the lease now.
    await b.attach(7, 'new');
    // a's next heartbeat (every ttl/3) must not overwrite it, and reports its own session superseded.
    expect(await superseded).toEqual([7, 'old']);
    const { Redis } = await import('ioredis');
    const probe = new Redis(url);
    expect(await probe.get(keys.presence(7))).toMatch(/^b\/new\/-\/0\/\d+$/);
    expect(await probe.get(keys.presence(8))).toMatch(/^a\/kept\/-\/0\/\d+$/);
    probe.disconnect();
    await Promise.all([a.close(), b.close()]);
  });

  it('after a Redis restart, a stale session that renews first does not displace the live one', async () => {
    // The attach times decide which session is newer: the clock moves only when the test says so.
    let now = Date.now();
    const { url, keys, a, b } = await twoPresences(900, { now: () => now });
    let liveSuperseded = false;
    b.onSuperseded(() => (liveSuperseded = true));
    const staleSuperseded = new Promise<string>((resolve) =>
      a.onSuperseded((_, sessionId) => resolve(sessionId)),
    );
    const { Redis } = await import('ioredis');
    const probe = new Redis(url);
    await a.attach(9, 'stale'); // node a was cut off and never heard of the newer session below
    const staleLease = (await probe.get(keys.presence(9)))!;
    now += 1;
    await b.attach(9, 'live');
    // Redis restarted, and a's heartbeat happened to come first: its stale lease is back.
    await probe.set(keys.presence(9), staleLease, 'PX', 900);
    expect(await staleSuperseded).toBe('stale');
    expect(await probe.get(keys.presence(9))).toMatch(/^b\/live\//);
    expect(liveSuperseded).toBe(false);
    probe.disconnect();
    await Promise.all([a.close(), b.close()]);
  });
});
