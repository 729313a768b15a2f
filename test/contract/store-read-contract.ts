import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/service/ports.js';
import { UNREAD_COUNT_CAP } from '../../src/service/ports.js';
import type { ContractContext } from './store-contract.js';

/** Read markers and the conversation list (part of storeContract). */
export function readContract(ctx: () => ContractContext): void {
  const user = (id: number): Target => ({ kind: 'user', id });
  const group = (id: number): Target => ({ kind: 'group', id });

  describe('read markers', () => {
    it("moves a marker forward only, clamped to the conversation's newest message", async () => {
      const { store, alice, bob, carol, send } = ctx();
      const m1 = await send(alice, bob);
      const m2 = await send(bob, alice);
      const m3 = await send(alice, bob);
      await send(alice, carol); // a newer message elsewhere does not raise the clamp
      expect(await store.reads.markRead(bob, user(alice), m2)).toBe(m2);
      expect(await store.reads.markRead(bob, user(alice), m1)).toBe(m2);
      expect(await store.reads.markRead(bob, user(alice), 0)).toBe(m2);
      expect(await store.reads.markRead(bob, user(alice), Number.NaN)).toBe(m2);
      expect(await store.reads.markRead(bob, user(alice), m3 + 1000)).toBe(m3);
      expect(await store.reads.markRead(alice, user(bob), m1)).toBe(m1);
      // Both sides of the 1:1, from either side.
      const expected = [
        { userId: alice, upTo: m1 },
        { userId: bob, upTo: m3 },
      ].sort((a, b) => a.userId - b.userId);
      expect(await store.reads.markers(alice, user(bob))).toEqual(expected);
      expect(await store.reads.markers(bob, user(alice))).toEqual(expected);
    });

    it('lists a 1:1 between non-friends for both sides without moving any marker', async () => {
      const { store, alice, carol, send } = ctx();
      const m1 = await send(alice, carol);
      expect((await store.reads.conversations(carol, undefined, 10)).items).toEqual([]);
      await store.reads.listPair(alice, carol);
      await store.reads.listPair(carol, alice);
      for (const [me, peer, unread] of [
        [alice, carol, 0],
        [carol, alice, 1],
      ] as const) {
        const { items } = await store.reads.conversations(me, undefined, 10);
        expect(items.map((i) => [i.target, i.readUpTo, i.unread, i.last.id])).toEqual([
          [user(peer), 0, unread, m1],
        ]);
      }
      expect(await store.reads.markers(alice, user(carol))).toEqual([]);
      expect(await store.reads.markRead(carol, user(alice), m1)).toBe(m1);
      await store.reads.listPair(alice, carol);
      expect(await store.reads.markers(alice, user(carol))).toEqual([{ userId: carol, upTo: m1 }]);
    });

    it('stores no marker in a conversation without messages', async () => {
      const { store, alice, carol } = ctx();
      expect(await store.reads.markRead(alice, user(carol), 42)).toBe(0);
      expect(await store.reads.markers(alice, user(carol))).toEqual([]);
      expect((await store.reads.conversations(alice, undefined, 10)).items).toEqual([]);
    });

    it('keeps one marker per member in a group, listed for any member', async () => {
      const { store, alice, bob, carol, sendToGroup } = ctx();
      const g = await store.groups.create(alice, `marks-${alice}`, '');
      await store.groups.addMember(g.id, bob);
      const m1 = await sendToGroup(alice, g.id, [bob]);
      const m2 = await sendToGroup(bob, g.id, [alice]);
      expect(await store.reads.markRead(bob, group(g.id), m1)).toBe(m1);
      expect(await store.reads.markRead(alice, group(g.id), m2 + 5)).toBe(m2);
      expect(await store.reads.markers(carol, group(g.id))).toEqual(
        [
          { userId: alice, upTo: m2 },
          { userId: bob, upTo: m1 },
        ].sort((a, b) => a.userId - b.userId),
      );
      // The group's markers are not a 1:1's.
      expect(await store.reads.markers(alice, user(bob))).toEqual([]);
    });
  });

  describe('conversation list', () => {
    it('lists friends, groups and marked conversations with messages, newest first, with unread counts', async () => {
      const { store, alice, bob, carol, send, sendToGroup } = ctx();
      const dave = (await store.users.create(`dave-${alice}`, 'h')).id;
      await store.friends.add(bob, alice);
      await store.friends.add(bob, carol); // no messages: not listed
      const g = await store.groups.create(alice, `team-${alice}`, '');
      await store.groups.addMember(g.id, bob);
      const a1 = await send(alice, bob, 'a1');
      const a2 = await send(alice, bob, 'a2');
      const g1 = await sendToGroup(alice, g.id, [bob], 'g1');
      const b1 = await send(bob, alice, 'b1'); // bob's own: not unread for bob
      const d1 = await send(dave, bob, 'd1'); // not a friend: listed only once bob marks it
      const g2 = await sendToGroup(bob, g.id, [alice], 'g2');
      const a3 = await send(alice, bob, 'a3');

      const page = await store.reads.conversations(bob, undefined, 10);
      expect(page.more).toBe(false);
      expect(page.items.map((c) => c.target)).toEqual([user(alice), group(g.id)]);
      const [withAlice, team] = page.items;
      expect(withAlice).toMatchObject({
        name: expect.stringMatching(/^alice-/),
        last: { id: a3, body: 'a3', senderId: alice },
        readUpTo: 0,
        unread: 3,
        peerReadUpTo: 0,
      });
      expect(team).toMatchObject({
        name: `team-${alice}`,
        last: { id: g2, body: 'g2', senderId: bob, groupName: `team-${alice}` },
        readUpTo: 0,
        unread: 1,
      });
      expect(team!.peerReadUpTo).toBeUndefined();

      // Reads (say on another device) move readUpTo and unread; alice's read shows as peerReadUpTo.
      await store.reads.markRead(bob, user(alice), a2);
      await store.reads.markRead(alice, user(bob), b1);
      await store.reads.markRead(bob, group(g.id), g1);
      await store.reads.markRead(bob, user(dave), d1);
      const after = await store.reads.conversations(bob, undefined, 10);
      expect(after.items.map((c) => [c.target, c.readUpTo, c.unread])).toEqual([
        [user(alice), a2, 1],
        [group(g.id), g1, 0],
        [user(dave), d1, 0],
      ]);
      expect(after.items[0]!.peerReadUpTo).toBe(b1);
      expect(after.items[2]).toMatchObject({ name: expect.stringMatching(/^dave-/), last: { id: d1 } });
      expect(a1).toBeLessThan(a2);
      // The other side's list: alice sees bob (a friend) and the group.
      const alices = await store.reads.conversations(alice, undefined, 10);
      expect(alices.items.map((c) => [c.target, c.unread, c.peerReadUpTo])).toEqual([
        [user(bob), 0, a2],
        [group(g.id), 1, undefined],
      ]);
    });

    it('pages by the last message id, saying whether more follow', async () => {
      const { store, alice, bob, carol, send } = ctx();
      const others = [alice, carol];
      for (let i = 0; i < 3; i++) others.push((await store.users.create(`p${i}-${alice}`, 'h')).id);
      const lastIds: number[] = [];
      for (const other of others) {
        await store.friends.add(bob, other);
        lastIds.push(await send(other, bob));
      }
      const newestFirst = [...lastIds].reverse();
      const first = await store.reads.conversations(bob, undefined, 2);
      expect(first.items.map((c) => c.last.id)).toEqual(newestFirst.slice(0, 2));
      expect(first.more).toBe(true);
      const second = await store.reads.conversations(bob, first.items[1]!.last.id, 2);
      expect(second.items.map((c) => c.last.id)).toEqual(newestFirst.slice(2, 4));
      expect(second.more).toBe(true);
      const third = await store.reads.conversations(bob, second.items[1]!.last.id, 2);
      expect(third.items.map((c) => c.last.id)).toEqual(newestFirst.slice(4));
      expect(third.more).toBe(false);
      expect((await store.reads.conversations(bob, newestFirst[4], 2)).items).toEqual([]);
    });

    it(`caps unread counts at ${UNREAD_COUNT_CAP}`, async () => {
      const { store, alice, bob, send } = ctx();
      await store.friends.add(alice, bob);
      await Promise.all(Array.from({ length: UNREAD_COUNT_CAP + 5 }, () => send(alice, bob)));
      const [item] = (await store.reads.conversations(bob, undefined, 5)).items;
      expect(item!.unread).toBe(UNREAD_COUNT_CAP);
      await store.reads.markRead(bob, user(alice), item!.last.id - 3);
      expect((await store.reads.conversations(bob, undefined, 5)).items[0]!.unread).toBe(3);
    });
  });
}
