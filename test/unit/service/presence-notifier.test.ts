import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { LocalPresence } from '../../../src/embedded/local-presence.js';
import type { BusEvent, FriendStore, MessageBus, UserSummary } from '../../../src/service/ports.js';
import { PresenceNotifier } from '../../../src/service/presence-notifier.js';

function recordingBus(): MessageBus & { batches: BusEvent[][] } {
  const batches: BusEvent[][] = [];
  return {
    batches,
    publish: (events) => {
      batches.push([...events]);
      return Promise.resolve();
    },
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    keepLocal: () => undefined,
    shareUser: () => undefined,
    setHandler: () => undefined,
    onResync: () => undefined,
    stats: () => ({ subscriptions: 0, published: 0, received: 0, publishFailures: 0 }),
    close: () => Promise.resolve(),
  };
}

function friendsOf(count: number): FriendStore {
  const list: UserSummary[] = Array.from({ length: count }, (_, i) => ({ id: 1000 + i, name: `f${i}` }));
  return { add: () => Promise.resolve(true), list: () => Promise.resolve(list) };
}

describe('PresenceNotifier', () => {
  it('fans a change out to every friend in bounded chunks, once per change', async () => {
    const presence = new LocalPresence();
    const bus = recordingBus();
    const notifier = new PresenceNotifier(presence, friendsOf(1000), bus, createLogger('silent'), 0);
    await presence.attach(1, 'laptop', 's1', { hidden: false, maxDevices: 10 });
    await presence.attach(1, 'phone', 's2', { hidden: false, maxDevices: 10 });
    await notifier.settled();
    expect(bus.batches.map((b) => b.length)).toEqual([256, 256, 256, 232]);
    const events = bus.batches.flat();
    expect(new Set(events.map((e) => e.userId)).size).toBe(1000);
    expect(events.every((e) => e.type === 'presence' && e.subject === 1 && e.view.state === 'online')).toBe(
      true,
    );
    expect(notifier.counts).toMatchObject({ changes: 1, events: 1000 });
  });

  it("works through many users' changes a few at a time", async () => {
    const presence = new LocalPresence();
    let inFlight = 0;
    let most = 0;
    const friends: FriendStore = {
      add: () => Promise.resolve(true),
      list: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return [{ id: 99, name: 'friend' }];
      },
    };
    const bus = recordingBus();
    const notifier = new PresenceNotifier(presence, friends, bus, createLogger('silent'), 0);
    for (let user = 1; user <= 50; user++)
      await presence.attach(user, 'd', `s${user}`, { hidden: false, maxDevices: 10 });
    await notifier.settled();
    expect(most).toBeLessThanOrEqual(4);
    expect(notifier.counts.changes).toBe(50);
  });
});
