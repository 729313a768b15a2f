import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisBus } from '../../src/redis/redis-bus.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import type { BusEvent } from '../../src/service/ports.js';
import { preciseWallClockMs } from '../../src/service/telemetry.js';
import { RedisServer } from '../../scripts/lib/redis.js';
import { busContract } from '../contract/bus-contract.js';
import { RecordingTelemetry } from '../helpers/recording-telemetry.js';

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

  it("times each event's hop from the publishing node (its publish time travels in the envelope)", async () => {
    const keys = new RedisKeys(prefix());
    const a = await bus(redis.url, keys, 'a');
    const telemetry = new RecordingTelemetry();
    const b = new RedisBus({ url: redis.url, keys, nodeId: 'b', logger, telemetry });
    await b.connect();
    const got = collector(b);
    await b.subscribe(2);
    const before = preciseWallClockMs();
    await a.publish([{ type: 'deliver', userId: 2, seq: 1, message }]);
    await got.next();
    const after = preciseWallClockMs();
    expect(telemetry.busReceipts).toHaveLength(1);
    expect(telemetry.busReceipts[0]).toBeGreaterThanOrEqual(before);
    expect(telemetry.busReceipts[0]).toBeLessThanOrEqual(after);
    // The same-node short cut does not cross Redis and is not timed.
    await b.publish([{ type: 'deliver', userId: 2, seq: 2, message }]);
    await got.next();
    expect(telemetry.busReceipts).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
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
    // User 1 has one device, here: its events need no Redis.
    a.keepLocal(1);
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
