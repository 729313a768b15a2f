import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent, MessageBus, StoredMessage } from '../../src/service/ports.js';

const message: StoredMessage = {
  id: 1,
  senderId: 1,
  senderName: 'alice',
  target: { kind: 'user', id: 2 },
  body: 'hi',
  clientTime: 't',
  cmid: null,
  createdAt: 0,
};

/** The behaviour every MessageBus must have; `makeBus` gives two buses of one cluster (one for local buses). */
export function busContract(name: string, makeBuses: () => Promise<[MessageBus, MessageBus]>): void {
  describe(`MessageBus contract: ${name}`, () => {
    let sender: MessageBus;
    let receiver: MessageBus;
    let received: BusEvent[];
    let waiters: (() => void)[];

    beforeEach(async () => {
      [sender, receiver] = await makeBuses();
      received = [];
      waiters = [];
      receiver.setHandler((event) => {
        received.push(event);
        for (const wake of waiters.splice(0)) wake();
      });
    });

    afterEach(async () => {
      await sender.close();
      if (receiver !== sender) await receiver.close();
    });

    const until = async (predicate: () => boolean): Promise<void> => {
      while (!predicate()) await new Promise<void>((resolve) => waiters.push(resolve));
    };

    it('delivers events for subscribed users, in order, with their payload', async () => {
      await receiver.subscribe(2);
      await sender.publish([
        { type: 'deliver', userId: 2, seq: 1, message },
        { type: 'deliver', userId: 2, seq: 2, message: { ...message, id: 2, body: 'again' } },
        { type: 'kick', userId: 2, device: 'd', sessionId: 's-1' },
      ]);
      await until(() => received.length === 3);
      expect(received.map((e) => e.type)).toEqual(['deliver', 'deliver', 'kick']);
      expect(received[1]).toMatchObject({
        seq: 2,
        message: { body: 'again', target: { kind: 'user', id: 2 } },
      });
    });

    it('does not deliver events for users nobody subscribed to', async () => {
      await receiver.subscribe(3);
      await sender.publish([{ type: 'deliver', userId: 2, seq: 1, message }]);
      await sender.publish([{ type: 'kick', userId: 3, device: 'd', sessionId: 'marker' }]);
      await until(() => received.length === 1);
      expect(received).toEqual([{ type: 'kick', userId: 3, device: 'd', sessionId: 'marker' }]);
    });

    it('keeps a subscription until the last reference is released', async () => {
      await receiver.subscribe(2);
      await receiver.subscribe(2);
      await receiver.unsubscribe(2);
      await sender.publish([{ type: 'kick', userId: 2, device: 'd', sessionId: 'still' }]);
      await until(() => received.length === 1);
      await receiver.unsubscribe(2);
      await receiver.subscribe(4);
      await sender.publish([
        { type: 'kick', userId: 2, device: 'd', sessionId: 'gone' },
        { type: 'kick', userId: 4, device: 'd', sessionId: 'marker' },
      ]);
      await until(() => received.length === 2);
      expect(received.map((e) => (e.type === 'kick' ? e.sessionId : ''))).toEqual(['still', 'marker']);
    });

    it("keeps a user's events on the node after keepLocal, and sends them out again after shareUser", async () => {
      // The user has a session on both nodes (two devices) — or, with one in-process bus, on its one node.
      await sender.subscribe(2);
      await receiver.subscribe(2);
      const atSender: BusEvent[] = sender === receiver ? received : [];
      if (sender !== receiver) sender.setHandler((event) => atSender.push(event));
      // Subscribed and not kept local: events go everywhere the user is.
      await sender.publish([{ type: 'sync', userId: 2 }]);
      await until(() => received.length === 1);
      sender.keepLocal(2);
      await sender.publish([{ type: 'devices', userId: 2 }]);
      sender.shareUser(2);
      await sender.publish([{ type: 'kick', userId: 2, device: 'd', sessionId: 'marker' }]);
      await until(() => received.some((e) => e.type === 'kick'));
      const seenByReceiver = received.map((e) => e.type);
      if (sender === receiver) expect(seenByReceiver).toEqual(['sync', 'devices', 'kick']);
      else {
        expect(seenByReceiver).toEqual(['sync', 'kick']);
        // Handled where they were published, each exactly once.
        expect(atSender.map((e) => e.type)).toEqual(['sync', 'devices', 'kick']);
      }
    });
  });
}
