import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../../src/embedded/local-bus.js';
import { createMemoryStore } from '../../../src/embedded/memory-store.js';
import { systemClock } from '../../../src/util/clock.js';
import { busContract } from '../../contract/bus-contract.js';
import { storeContract } from '../../contract/store-contract.js';

storeContract('memory', ({ clock, deviceRetentionMs }) =>
  Promise.resolve(createMemoryStore(clock, 10_000, deviceRetentionMs)),
);

busContract('local', () => {
  const bus = new LocalBus();
  return Promise.resolve([bus, bus]);
});

describe('memory store limits', () => {
  it('keeps at most about EMBEDDED_HISTORY_LIMIT messages of a conversation', async () => {
    const store = createMemoryStore(systemClock, 10);
    const a = await store.users.create('a', 'h');
    const b = await store.users.create('b', 'h');
    for (let i = 0; i < 40; i++) {
      await store.messages.append(
        { senderId: a.id, target: { kind: 'user', id: b.id }, body: `m${i}`, clientTime: 't', cmid: null },
        [b.id],
      );
    }
    const history = await store.messages.history({
      userId: a.id,
      target: { kind: 'user', id: b.id },
      beforeId: undefined,
      limit: 100,
    });
    expect(history.length).toBeLessThanOrEqual(15);
    expect(history[0]!.body).toBe('m39');
    // The inbox is not trimmed by the history limit: undelivered messages stay.
    expect((await store.messages.readInbox(b.id, 0, 100)).length).toBe(40);
  });
});
