import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../../src/embedded/local-bus.js';
import { createMemoryStore } from '../../../src/embedded/memory-store.js';
import { MessageService } from '../../../src/service/message-service.js';
import type { BusEvent } from '../../../src/service/ports.js';

describe('MessageService', () => {
  it('publishes deliveries for a new message, and a sync poke (no deliveries) for a resend', async () => {
    const clock = { now: () => 1_700_000_000_000 };
    const store = createMemoryStore(clock, 100);
    const bus = new LocalBus();
    const published: BusEvent[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = (events) => (published.push(...events), publish(events));
    const service = new MessageService(
      store,
      bus,
      clock,
      { maxMessageChars: 1000, pageSize: 100 },
      pino({ level: 'silent' }),
    );
    const alice = await store.users.create('alice', 'h');
    const bob = await store.users.create('bob', 'h');
    const send = () =>
      service.send({ senderId: alice.id, target: { kind: 'user', id: bob.id }, body: 'hi', cmid: 'c1' });
    const first = await send();
    expect(published).toEqual([{ type: 'deliver', userId: bob.id, seq: 1, message: first.message }]);
    published.length = 0;
    // The first attempt's node may have died before publishing: the resend makes the recipient catch up.
    const again = await send();
    expect(again.duplicate).toBe(true);
    expect(published).toEqual([{ type: 'sync', userId: bob.id }]);
  });
});
