import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  AttachOutcome,
  DeviceId,
  Presence,
  PresenceChange,
  PresenceView,
  SessionOrigin,
  UserId,
} from '../../src/service/ports.js';

/** Two nodes of one cluster sharing fresh state, and what the suite may do to nodes whose leases expire. */
export interface PresenceCluster {
  /** The same instance twice for a single-process presence. */
  readonly a: Presence;
  readonly b: Presence;
  /** Present for a presence spread over processes, whose leases expire when their node dies. */
  readonly mortal?: {
    readonly ttlMs: number;
    /** Another node of the same cluster (the suite closes or crashes it). */
    node(): Promise<Presence>;
    /** Stops `node` as a crash would: no heartbeat, nothing released. */
    crash(node: Presence): void;
    /** Runs `node`'s sweep of expired users once, now. */
    sweep(node: Presence): Promise<unknown>;
  };
}

interface Claim {
  readonly device?: DeviceId;
  readonly origin?: SessionOrigin;
  readonly hidden?: boolean;
  readonly maxDevices?: number;
}

const ONLINE: PresenceView = { state: 'online', lastSeen: null };
const HIDDEN: PresenceView = { state: 'offline', lastSeen: null };

/**
 * The behaviour every Presence must have (the `Presence` port in src/service/ports.ts). Whether a claim
 * wrote anything is read back through detach: only the holder's own detach frees the device. Every change
 * either node reports is collected, so "once" means once across the cluster. `expiring` presences (leases
 * that expire when their node dies) also run the dead-node tests, with `PresenceCluster.mortal`.
 */
export function presenceContract(
  name: string,
  makeCluster: () => Promise<PresenceCluster>,
  { expiring = false }: { readonly expiring?: boolean } = {},
): void {
  describe(`Presence contract: ${name}`, () => {
    let a: Presence;
    let b: Presence;
    let cluster: PresenceCluster;
    let changes: PresenceChange[];
    const extra: Presence[] = [];

    /** Reports of every node, in order (a single-process presence reports once through one handler). */
    const listen = (node: Presence): void => node.onChange((change) => changes.push(change));

    beforeEach(async () => {
      cluster = await makeCluster();
      ({ a, b } = cluster);
      changes = [];
      listen(a);
      if (b !== a) listen(b);
    });

    afterEach(async () => {
      await Promise.all([
        a.close(),
        ...(b === a ? [] : [b.close()]),
        ...extra.splice(0).map((n) => n.close()),
      ]);
    });

    const attach = (
      node: Presence,
      userId: UserId,
      sessionId: string,
      { device = 'd', origin, hidden = false, maxDevices = 10 }: Claim = {},
    ): Promise<AttachOutcome> => node.attach(userId, device, sessionId, { origin, hidden, maxDevices });

    /** Online on both nodes, the same answer, from onlineAmong and viewsOf alike. */
    const online = async (ids: readonly UserId[]): Promise<Set<UserId>> => {
      const [fromA, fromB, views] = await Promise.all([
        a.onlineAmong(ids),
        b.onlineAmong(ids),
        a.viewsOf(ids),
      ]);
      expect(fromB).toEqual(fromA);
      expect(new Set([...views].filter(([, view]) => view.state === 'online').map(([id]) => id))).toEqual(
        fromA,
      );
      return fromA;
    };

    /** The view of one user, the same on both nodes. */
    const view = async (userId: UserId): Promise<PresenceView | undefined> => {
      const [fromA, fromB] = await Promise.all([a.viewsOf([userId]), b.viewsOf([userId])]);
      expect(fromB.get(userId)).toEqual(fromA.get(userId));
      return fromA.get(userId);
    };

    const reportsOf = (userId: UserId): PresenceView[] =>
      changes.filter((change) => change.userId === userId).map((change) => change.view);

    describe('leases', () => {
      it('shows an attached user online on every node, among the ids asked for only', async () => {
        expect(await attach(a, 1, 's1')).toBe('attached');
        expect(await attach(b, 2, 's2')).toBe('attached');
        expect(await online([3, 2, 1, 4])).toEqual(new Set([1, 2]));
        expect(await online([3])).toEqual(new Set());
        expect(await online([])).toEqual(new Set());
        const views = await b.viewsOf([1, 3, 1]);
        expect([...views]).toEqual([
          [1, ONLINE],
          [3, { state: 'offline', lastSeen: null }],
        ]);
      });

      it('keeps a user online while any device is attached, on any node', async () => {
        expect(await attach(a, 1, 'laptop', { device: 'laptop' })).toBe('attached');
        expect(await attach(b, 1, 'phone', { device: 'phone' })).toBe('attached');
        expect(await attach(a, 1, 'tablet', { device: 'tablet' })).toBe('attached');
        await a.detach(1, 'laptop', 'laptop');
        await a.detach(1, 'tablet', 'tablet');
        expect(await online([1])).toEqual(new Set([1]));
        await b.detach(1, 'phone', 'phone');
        expect(await online([1])).toEqual(new Set());
      });

      it("frees only the detaching session's own device", async () => {
        await attach(a, 1, 's1', { device: 'x' });
        await a.detach(1, 'y', 's1'); // the right session, another device: nothing
        await a.detach(1, 'x', 'other'); // the right device, another session: nothing
        await b.detach(2, 'x', 'nobody');
        expect(await online([1, 2])).toEqual(new Set([1]));
        await a.detach(1, 'x', 's1');
        expect(await online([1])).toEqual(new Set());
      });

      it('lets a newer session take a device over; the replaced session detaching late changes nothing', async () => {
        await attach(a, 1, 'old');
        expect(await attach(b, 1, 'new')).toBe('attached');
        await a.detach(1, 'd', 'old');
        expect(await online([1])).toEqual(new Set([1]));
        await b.detach(1, 'd', 'new');
        expect(await online([1])).toEqual(new Set());
      });

      it("refuses, writing nothing, a claim by an older attempt of the device holder's client instance", async () => {
        expect(await attach(b, 5, 'live', { origin: { cid: 'c/1', attempt: 6 } })).toBe('attached');
        // From another node and from the holder's own node alike.
        expect(await attach(a, 5, 'stale', { origin: { cid: 'c/1', attempt: 5 } })).toBe('stale');
        expect(await attach(b, 5, 'staler', { origin: { cid: 'c/1', attempt: 0 } })).toBe('stale');
        // The same client instance on another device is another lease: not stale.
        expect(await attach(a, 5, 'other', { device: 'e', origin: { cid: 'c/1', attempt: 1 } })).toBe(
          'attached',
        );
        await a.detach(5, 'e', 'other');
        // Still the live session's: the refused ones' detaches free nothing, the live one's does.
        await a.detach(5, 'd', 'stale');
        await b.detach(5, 'd', 'staler');
        expect(await online([5])).toEqual(new Set([5]));
        await b.detach(5, 'd', 'live');
        expect(await online([5])).toEqual(new Set());
      });

      it('lets another client instance, the same or a newer attempt, or a login naming no client take over', async () => {
        const claims = [
          { node: a, sessionId: 's1', origin: { cid: 'c1', attempt: 3 } },
          { node: b, sessionId: 's2', origin: { cid: 'c2', attempt: 1 } }, // another client instance
          { node: a, sessionId: 's3', origin: { cid: 'c2', attempt: 1 } }, // the same attempt again
          { node: b, sessionId: 's4', origin: { cid: 'c2', attempt: 2 } }, // a newer attempt
          { node: a, sessionId: 's5', origin: undefined }, // a login without cid
          { node: b, sessionId: 's6', origin: { cid: 'c2', attempt: 0 } }, // after a holder without cid
        ];
        for (const { node, sessionId, origin } of claims)
          expect(await attach(node, 9, sessionId, { ...(origin && { origin }) }), sessionId).toBe('attached');
        // Each claim took the device over: only the last session's detach frees it.
        for (const { node, sessionId } of claims.slice(0, -1)) await node.detach(9, 'd', sessionId);
        expect(await online([9])).toEqual(new Set([9]));
        await b.detach(9, 'd', 's6');
        expect(await online([9])).toEqual(new Set());
      });

      it('lets an older attempt claim once the newer one has detached', async () => {
        await attach(a, 7, 'newer', { origin: { cid: 'c1', attempt: 2 } });
        await a.detach(7, 'd', 'newer');
        expect(await attach(b, 7, 'older', { origin: { cid: 'c1', attempt: 1 } })).toBe('attached');
        expect(await online([7])).toEqual(new Set([7]));
      });

      it('leaves the newer of two racing attempts of one client holding the device, whichever claims first', async () => {
        for (const [userId, olderFirst] of [
          [11, true],
          [12, false],
        ] as const) {
          const older = () => attach(a, userId, 'older', { origin: { cid: 'c1', attempt: 1 } });
          const newer = () => attach(b, userId, 'newer', { origin: { cid: 'c1', attempt: 2 } });
          const [, newerClaimed] = olderFirst
            ? await Promise.all([older(), newer()])
            : (await Promise.all([newer(), older()])).reverse();
          expect(newerClaimed).toBe('attached');
          await a.detach(userId, 'd', 'older');
          expect(await online([userId])).toEqual(new Set([userId]));
          await b.detach(userId, 'd', 'newer');
          expect(await online([userId])).toEqual(new Set());
        }
      });

      it('releases the users of its sessions when it closes', async () => {
        await attach(a, 1, 's1');
        await attach(a, 2, 's2', { origin: { cid: 'c1', attempt: 1 } });
        await attach(a, 3, 'here', { device: 'x' });
        await attach(b, 3, 'there', { device: 'y' });
        await a.close();
        expect(await b.onlineAmong([1, 2, 3])).toEqual(b === a ? new Set() : new Set([3]));
      });
    });

    describe('device limit', () => {
      it('refuses, writing nothing, a device beyond maxDevices, on any node', async () => {
        const max = { maxDevices: 2 };
        expect(await attach(a, 1, 's1', { ...max, device: 'x' })).toBe('attached');
        expect(await attach(b, 1, 's2', { ...max, device: 'y' })).toBe('attached');
        expect(await attach(a, 1, 's3', { ...max, device: 'z' })).toBe('too-many-devices');
        expect(await attach(b, 1, 's4', { ...max, device: 'z' })).toBe('too-many-devices');
        await a.detach(1, 'x', 's1');
        await b.detach(1, 'y', 's2');
        expect(await online([1])).toEqual(new Set()); // the refused device holds nothing
      });

      it('never counts a device against itself: a same-device login at the limit takes it over', async () => {
        const max = { maxDevices: 2 };
        await attach(a, 1, 's1', { ...max, device: 'x' });
        await attach(b, 1, 's2', { ...max, device: 'y' });
        expect(await attach(b, 1, 's3', { ...max, device: 'x' })).toBe('attached');
        expect(await attach(a, 1, 's4', { ...max, device: 'y', origin: { cid: 'c', attempt: 1 } })).toBe(
          'attached',
        );
        expect(await attach(a, 1, 'one', { maxDevices: 1, device: 'solo' })).toBe('too-many-devices');
        expect(await attach(a, 2, 'one', { maxDevices: 1, device: 'solo' })).toBe('attached');
      });

      it('makes room when a device leaves', async () => {
        const max = { maxDevices: 1 };
        await attach(a, 1, 's1', { ...max, device: 'x' });
        expect(await attach(b, 1, 's2', { ...max, device: 'y' })).toBe('too-many-devices');
        await a.detach(1, 'x', 's1');
        expect(await attach(b, 1, 's2', { ...max, device: 'y' })).toBe('attached');
      });

      it('lets exactly one of two devices racing for the last place in', async () => {
        const max = { maxDevices: 2 };
        await attach(a, 1, 's1', { ...max, device: 'x' });
        const outcomes = await Promise.all([
          attach(a, 1, 's2', { ...max, device: 'y' }),
          attach(b, 1, 's3', { ...max, device: 'z' }),
        ]);
        expect(outcomes.sort()).toEqual(['attached', 'too-many-devices']);
      });
    });

    describe('changes', () => {
      it('reports the first device in and the last device out, once each, with when the user was last seen', async () => {
        await attach(a, 1, 's1', { device: 'x' });
        expect(reportsOf(1)).toEqual([ONLINE]);
        await attach(b, 1, 's2', { device: 'y' });
        await attach(a, 1, 's3', { device: 'y' }); // a takeover of a device changes nothing either
        await a.detach(1, 'x', 's1');
        expect(reportsOf(1)).toEqual([ONLINE]);
        const before = Date.now();
        await a.detach(1, 'y', 's3');
        const after = Date.now();
        const reports = reportsOf(1);
        expect(reports).toHaveLength(2);
        expect(reports[1]!.state).toBe('offline');
        expect(reports[1]!.lastSeen).toBeGreaterThanOrEqual(before - 5);
        expect(reports[1]!.lastSeen).toBeLessThanOrEqual(after + 5);
        expect(await view(1)).toEqual(reports[1]);
        // Online again: lastSeen is null while online, and back once they leave.
        await attach(b, 1, 's4');
        expect(await view(1)).toEqual(ONLINE);
        await b.detach(1, 'd', 's4');
        expect(reportsOf(1).map((v) => v.state)).toEqual(['online', 'offline', 'online', 'offline']);
        expect((await view(1))?.lastSeen).toBeGreaterThanOrEqual(reports[1]!.lastSeen!);
      });

      it('reports nothing for a refused claim or a detach that frees nothing', async () => {
        await attach(a, 1, 'live', { origin: { cid: 'c', attempt: 2 }, maxDevices: 1 });
        changes.length = 0;
        await attach(b, 1, 'stale', { origin: { cid: 'c', attempt: 1 }, maxDevices: 1 });
        await attach(b, 1, 'extra', { device: 'e', maxDevices: 1 });
        await b.detach(1, 'd', 'stale');
        await b.detach(2, 'd', 'nobody');
        expect(changes).toEqual([]);
      });

      it('reports once when the last two devices leave at the same time on two nodes', async () => {
        for (const userId of [1, 2, 3]) {
          await attach(a, userId, 'sx', { device: 'x' });
          await attach(b, userId, 'sy', { device: 'y' });
          await Promise.all([a.detach(userId, 'x', 'sx'), b.detach(userId, 'y', 'sy')]);
          expect(reportsOf(userId).map((v) => v.state)).toEqual(['online', 'offline']);
        }
      });

      it('reports once when two devices come in at the same time on two nodes', async () => {
        await Promise.all([attach(a, 1, 'sx', { device: 'x' }), attach(b, 1, 'sy', { device: 'y' })]);
        expect(reportsOf(1)).toEqual([ONLINE]);
      });
    });

    describe('hidden', () => {
      it('never reports a hidden user, and shows them offline with no lastSeen everywhere', async () => {
        await attach(a, 1, 'sx', { device: 'x' });
        await a.detach(1, 'x', 'sx');
        changes.length = 0;
        await attach(a, 1, 'sx', { device: 'x', hidden: true });
        await attach(b, 1, 'sy', { device: 'y', hidden: true });
        expect(await view(1)).toEqual(HIDDEN);
        expect(await online([1])).toEqual(new Set());
        await a.detach(1, 'x', 'sx');
        await b.detach(1, 'y', 'sy');
        expect(changes).toEqual([]);
        expect(await view(1)).toEqual(HIDDEN); // the lastSeen from before is not shown either
      });

      it('reports hiding and showing while online once each, as offline then online', async () => {
        await attach(a, 1, 'sx', { device: 'x' });
        await attach(b, 1, 'sy', { device: 'y' });
        changes.length = 0;
        await b.setHidden(1, true);
        await a.setHidden(1, true); // no change
        expect(changes).toEqual([{ userId: 1, view: HIDDEN }]);
        expect(await view(1)).toEqual(HIDDEN);
        await a.setHidden(1, false);
        await b.setHidden(1, false);
        expect(changes).toEqual([
          { userId: 1, view: HIDDEN },
          { userId: 1, view: ONLINE },
        ]);
        expect(await view(1)).toEqual(ONLINE);
      });

      it("keeps the setting across the user's devices and nodes until changed, and while offline", async () => {
        await attach(a, 1, 'sx', { device: 'x' });
        await b.setHidden(1, true);
        changes.length = 0;
        // Another device logs in (its login read the setting as the store has it) on the other node.
        await attach(b, 1, 'sy', { device: 'y', hidden: true });
        await a.detach(1, 'x', 'sx');
        await b.detach(1, 'y', 'sy');
        expect(changes).toEqual([]);
        expect(await view(1)).toEqual(HIDDEN);
        // Shown while offline: nothing to report, and what they were last seen before hiding (nothing) shows.
        await a.setHidden(1, false);
        expect(changes).toEqual([]);
        expect(await view(1)).toEqual({ state: 'offline', lastSeen: null });
      });

      it("hides a visible offline user's lastSeen and shows it again when they unhide", async () => {
        await attach(a, 1, 'sx');
        await a.detach(1, 'd', 'sx');
        const seen = await view(1);
        expect(seen?.lastSeen).toEqual(expect.any(Number));
        await b.setHidden(1, true);
        expect(await view(1)).toEqual(HIDDEN);
        await a.setHidden(1, false);
        expect(await view(1)).toEqual(seen);
        expect(reportsOf(1).map((v) => v.state)).toEqual(['online', 'offline']);
      });
    });

    // Only where leases expire: a single-process presence has no other node to lose (not skipped: absent).
    if (expiring)
      describe('nodes that die', () => {
        const mortal = () => {
          if (!cluster.mortal) throw new Error('not a presence with expiring leases');
          return cluster.mortal;
        };
        const node = async (): Promise<Presence> => {
          const n = await mortal().node();
          extra.push(n);
          listen(n);
          return n;
        };
        const waitFor = (check: () => unknown): Promise<unknown> =>
          vi.waitFor(check, { timeout: mortal().ttlMs * 3 + 2000, interval: 20 });

        it("reports a dead node's users offline once, from another node, within the TTL and a sweep", async () => {
          const c = await node();
          await attach(c, 1, 'gone', { device: 'x' });
          await attach(c, 2, 'gone', { device: 'x' });
          await attach(a, 2, 'alive', { device: 'y' });
          expect(reportsOf(1)).toEqual([ONLINE]);
          const crashed = Date.now();
          mortal().crash(c);
          await waitFor(() => expect(reportsOf(1)).toHaveLength(2));
          const [, offline] = reportsOf(1);
          expect(offline?.state).toBe('offline');
          // When its lease was last renewed: at most the crash.
          expect(offline?.lastSeen).toBeLessThanOrEqual(crashed + 5);
          expect(offline?.lastSeen).toBeGreaterThan(crashed - mortal().ttlMs);
          expect(await view(1)).toEqual(offline);
          // The user with a live device elsewhere stays online, unreported.
          await Promise.all([mortal().sweep(a), mortal().sweep(b)]);
          expect(reportsOf(2)).toEqual([ONLINE]);
          expect(await online([1, 2])).toEqual(new Set([2]));
          expect(reportsOf(1)).toHaveLength(2);
        });

        it('reports an expired user once when two nodes sweep at the same time', async () => {
          const c = await node();
          for (const userId of [1, 2, 3, 4]) await attach(c, userId, 'gone');
          mortal().crash(c);
          await new Promise((resolve) => setTimeout(resolve, mortal().ttlMs + 50));
          await Promise.all([mortal().sweep(a), mortal().sweep(b), mortal().sweep(a), mortal().sweep(b)]);
          for (const userId of [1, 2, 3, 4])
            expect(
              reportsOf(userId).map((v) => v.state),
              `user ${userId}`,
            ).toEqual(['online', 'offline']);
        });

        it('reports once when the last live device leaves while another node sweeps its expired one', async () => {
          const c = await node();
          for (const userId of [1, 2, 3]) {
            await attach(c, userId, 'gone', { device: 'x' });
            await attach(a, userId, 'alive', { device: 'y' });
          }
          mortal().crash(c);
          await new Promise((resolve) => setTimeout(resolve, mortal().ttlMs + 50));
          await Promise.all([
            ...[1, 2, 3].map((userId) => a.detach(userId, 'y', 'alive')),
            mortal().sweep(b),
            mortal().sweep(a),
          ]);
          for (const userId of [1, 2, 3])
            expect(
              reportsOf(userId).map((v) => v.state),
              `user ${userId}`,
            ).toEqual(['online', 'offline']);
        });

        it("frees a dead device's place when its lease expires, without the user flapping", async () => {
          const c = await node();
          await attach(c, 1, 'gone', { device: 'x', maxDevices: 1 });
          mortal().crash(c);
          expect(await attach(a, 1, 'new', { device: 'y', maxDevices: 1 })).toBe('too-many-devices');
          await waitFor(async () =>
            expect(await attach(a, 1, 'new', { device: 'y', maxDevices: 1 })).toBe('attached'),
          );
          await Promise.all([mortal().sweep(a), mortal().sweep(b)]);
          // Either the sweep reported the dead device first (then the new one came in), or it never did.
          const states = reportsOf(1).map((v) => v.state);
          expect([['online'], ['online', 'offline', 'online']]).toContainEqual(states);
          expect(await online([1])).toEqual(new Set([1]));
        });

        it('never reports a hidden user whose node died', async () => {
          const c = await node();
          await attach(c, 1, 'gone', { hidden: true });
          mortal().crash(c);
          await new Promise((resolve) => setTimeout(resolve, mortal().ttlMs + 50));
          await Promise.all([mortal().sweep(a), mortal().sweep(b)]);
          expect(changes).toEqual([]);
          expect(await view(1)).toEqual(HIDDEN);
          // The dead device no longer holds a place.
          expect(await attach(a, 1, 'back', { maxDevices: 1, device: 'other', hidden: true })).toBe(
            'attached',
          );
        });
      });
  });
}
