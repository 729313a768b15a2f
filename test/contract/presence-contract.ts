import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Presence, UserId } from '../../src/service/ports.js';

/**
 * The behaviour every Presence must have (the `Presence` port in src/service/ports.ts). `makePresences`
 * gives two nodes of one cluster sharing fresh state (the same instance twice for a single-node presence).
 * Whether a claim wrote anything is read back through detach: only the holder's own detach frees the user.
 */
export function presenceContract(
  name: string,
  makePresences: () => Promise<readonly [Presence, Presence]>,
): void {
  describe(`Presence contract: ${name}`, () => {
    let a: Presence;
    let b: Presence;

    beforeEach(async () => {
      [a, b] = await makePresences();
    });

    afterEach(async () => {
      await a.close();
      if (b !== a) await b.close();
    });

    /** Online on both nodes, the same answer. */
    const online = async (ids: readonly UserId[]): Promise<Set<UserId>> => {
      const [fromA, fromB] = await Promise.all([a.onlineAmong(ids), b.onlineAmong(ids)]);
      expect(fromB).toEqual(fromA);
      return fromA;
    };

    it('shows an attached user online on every node, among the ids asked for only', async () => {
      expect(await a.attach(1, 's1')).toBe(true);
      expect(await b.attach(2, 's2')).toBe(true);
      expect(await online([3, 2, 1, 4])).toEqual(new Set([1, 2]));
      expect(await online([3])).toEqual(new Set());
      expect(await online([])).toEqual(new Set());
    });

    it('takes a user offline on every node when their session detaches', async () => {
      await a.attach(1, 's1');
      await a.attach(2, 's2');
      await a.detach(1, 's1');
      expect(await online([1, 2])).toEqual(new Set([2]));
      await a.detach(2, 's2');
      expect(await online([1, 2])).toEqual(new Set());
    });

    it('lets a newer session take a user over; the replaced session detaching late changes nothing', async () => {
      await a.attach(1, 'old');
      expect(await b.attach(1, 'new')).toBe(true);
      await a.detach(1, 'old');
      expect(await online([1])).toEqual(new Set([1]));
      await b.detach(1, 'new');
      expect(await online([1])).toEqual(new Set());
    });

    it('ignores the detach of a session that never attached', async () => {
      await a.attach(1, 's1');
      await b.detach(1, 'someone-else');
      await b.detach(2, 'nobody');
      expect(await online([1, 2])).toEqual(new Set([1]));
    });

    it("refuses, writing nothing, a claim by an older attempt of the holder's client instance", async () => {
      expect(await b.attach(5, 'live', { cid: 'c/1', attempt: 6 })).toBe(true);
      // From another node and from the holder's own node alike.
      expect(await a.attach(5, 'stale', { cid: 'c/1', attempt: 5 })).toBe(false);
      expect(await b.attach(5, 'staler', { cid: 'c/1', attempt: 0 })).toBe(false);
      // Still the live session's: the refused ones' detaches free nothing, the live one's does.
      await a.detach(5, 'stale');
      await b.detach(5, 'staler');
      expect(await online([5])).toEqual(new Set([5]));
      await b.detach(5, 'live');
      expect(await online([5])).toEqual(new Set());
    });

    it('lets another client instance, the same or a newer attempt, or a login naming no client take over', async () => {
      const claims = [
        { presence: a, sessionId: 's1', origin: { cid: 'c1', attempt: 3 } },
        { presence: b, sessionId: 's2', origin: { cid: 'c2', attempt: 1 } }, // another device
        { presence: a, sessionId: 's3', origin: { cid: 'c2', attempt: 1 } }, // the same attempt again
        { presence: b, sessionId: 's4', origin: { cid: 'c2', attempt: 2 } }, // a newer attempt
        { presence: a, sessionId: 's5', origin: undefined }, // a login without cid
        { presence: b, sessionId: 's6', origin: { cid: 'c2', attempt: 0 } }, // after a holder without cid
      ];
      for (const { presence, sessionId, origin } of claims)
        expect(await presence.attach(9, sessionId, origin), sessionId).toBe(true);
      // Each claim took the user over: only the last session's detach frees them.
      for (const { presence, sessionId } of claims.slice(0, -1)) await presence.detach(9, sessionId);
      expect(await online([9])).toEqual(new Set([9]));
      await b.detach(9, 's6');
      expect(await online([9])).toEqual(new Set());
    });

    it('lets an older attempt claim once the newer one has detached', async () => {
      await a.attach(7, 'newer', { cid: 'c1', attempt: 2 });
      await a.detach(7, 'newer');
      expect(await b.attach(7, 'older', { cid: 'c1', attempt: 1 })).toBe(true);
      expect(await online([7])).toEqual(new Set([7]));
    });

    it('leaves the newer of two racing attempts of one client holding the user, whichever claims first', async () => {
      for (const [userId, olderFirst] of [
        [11, true],
        [12, false],
      ] as const) {
        const older = () => a.attach(userId, 'older', { cid: 'c1', attempt: 1 });
        const newer = () => b.attach(userId, 'newer', { cid: 'c1', attempt: 2 });
        const [, newerClaimed] = olderFirst
          ? await Promise.all([older(), newer()])
          : (await Promise.all([newer(), older()])).reverse();
        expect(newerClaimed).toBe(true);
        await a.detach(userId, 'older');
        expect(await online([userId])).toEqual(new Set([userId]));
        await b.detach(userId, 'newer');
        expect(await online([userId])).toEqual(new Set());
      }
    });

    it('releases the users of its sessions when it closes', async () => {
      await a.attach(1, 's1');
      await a.attach(2, 's2', { cid: 'c1', attempt: 1 });
      await a.close();
      expect(await b.onlineAmong([1, 2])).toEqual(new Set());
    });
  });
}
