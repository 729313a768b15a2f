import { describe, expect, it } from 'vitest';
import type { UserId } from '../../src/service/ports.js';
import { CONTRACT_RETENTION_MS, type ContractContext } from './store-contract.js';

const DAY = 86_400_000;

/** Devices: per-device acks, the floor, retention and pruning, epochs (part of storeContract). */
export function deviceContract(ctx: () => ContractContext): void {
  describe('devices', () => {
    /** The sequences still in the inbox (after the store's deferred pruning). */
    const kept = async (userId: UserId) => {
      const { store, settle } = ctx();
      await settle();
      return (await store.messages.readInbox(userId, 0, 1000)).map((entry) => entry.seq);
    };
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

    it('registers a new device at the start with reset, and finds it again without reset', async () => {
      const { store, alice, bob, send } = ctx();
      for (let i = 0; i < 3; i++) await send(alice, bob);
      expect(await store.messages.openDevice(bob, 'laptop')).toEqual({
        ackedSeq: 0,
        lastSeq: 3,
        reset: true,
        epoch: 0,
        activeDevices: 1,
      });
      await store.messages.ack(bob, 'laptop', 2);
      expect(await store.messages.openDevice(bob, 'laptop')).toEqual({
        ackedSeq: 2,
        lastSeq: 3,
        reset: false,
        epoch: 0,
        activeDevices: 1,
      });
      // A user who never received anything.
      expect(await store.messages.openDevice(alice, 'v1')).toEqual({
        ackedSeq: 0,
        lastSeq: 0,
        reset: true,
        epoch: 0,
        activeDevices: 1,
      });
    });

    it('keeps one acked position per device, each forward only and clamped to the last sequence', async () => {
      const { store, alice, bob, send } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 5; i++) await send(alice, bob);
      await store.messages.ack(bob, 'laptop', 4);
      await store.messages.ack(bob, 'phone', 2);
      await store.messages.ack(bob, 'laptop', 3);
      expect(await store.messages.cursor(bob, 'laptop')).toEqual({ ackedSeq: 4, lastSeq: 5 });
      expect(await store.messages.cursor(bob, 'phone')).toEqual({ ackedSeq: 2, lastSeq: 5 });
      await store.messages.ack(bob, 'phone', 50);
      expect(await store.messages.cursor(bob, 'phone')).toEqual({ ackedSeq: 5, lastSeq: 5 });
      // Device names are exact: another case is another device.
      expect((await store.messages.openDevice(bob, 'Laptop')).reset).toBe(true);
      expect(await store.messages.cursor(bob, 'laptop')).toEqual({ ackedSeq: 4, lastSeq: 5 });
    });

    it('ignores an ack from a device that never opened a session, and names the floor as its cursor', async () => {
      const { store, alice, bob, send } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      for (let i = 0; i < 3; i++) await send(alice, bob);
      await store.messages.ack(bob, 'ghost', 3);
      expect(await store.messages.cursor(bob, 'ghost')).toEqual({ ackedSeq: 0, lastSeq: 3 });
      expect(await kept(bob)).toEqual([1, 2, 3]);
      expect((await store.messages.openDevice(bob, 'laptop')).activeDevices).toBe(1);
    });

    it('prunes inbox rows only once both devices acked them', async () => {
      const { store, alice, bob, send } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 6; i++) await send(alice, bob);
      await store.messages.ack(bob, 'laptop', 5);
      // The phone acked nothing: everything stays for it.
      expect(await kept(bob)).toEqual(range(1, 6));
      expect((await store.messages.readInbox(bob, 0, 10)).map((e) => e.message.body)).toHaveLength(6);
      await store.messages.ack(bob, 'phone', 3);
      // Below the lower of the two acked positions goes (the floor row itself may stay).
      expect(await kept(bob)).toEqual(range(3, 6));
      await store.messages.ack(bob, 'phone', 6);
      expect(await kept(bob)).toEqual(range(5, 6));
      // What each device still owes itself is intact.
      expect((await store.messages.readInbox(bob, 5, 10)).map((e) => e.seq)).toEqual([6]);
    });

    it('starts a new device at the oldest position kept for the other devices, with reset', async () => {
      const { store, alice, bob, send } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 6; i++) await send(alice, bob);
      await store.messages.ack(bob, 'laptop', 6);
      await store.messages.ack(bob, 'phone', 4);
      await ctx().settle();
      const tablet = await store.messages.openDevice(bob, 'tablet');
      expect(tablet).toEqual({ ackedSeq: 4, lastSeq: 6, reset: true, epoch: 0, activeDevices: 3 });
      // The tablet now holds back pruning too.
      await store.messages.ack(bob, 'phone', 6);
      expect(await kept(bob)).toEqual(range(4, 6));
      await store.messages.ack(bob, 'tablet', 6);
      expect(await kept(bob)).toEqual([6]);
    });

    it('lets a device away beyond the retention stop holding back pruning; it returns reset to the floor', async () => {
      const { store, alice, bob, send, clock } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 6; i++) await send(alice, bob);
      await store.messages.ack(bob, 'phone', 2);
      await store.messages.ack(bob, 'laptop', 5);
      expect(await kept(bob)).toEqual(range(2, 6));
      // The laptop keeps acking; the phone stays away past the retention.
      clock.advance(CONTRACT_RETENTION_MS - DAY);
      await store.messages.ack(bob, 'laptop', 5);
      expect(await kept(bob)).toEqual(range(2, 6)); // still within the window: the phone holds
      clock.advance(2 * DAY);
      for (let i = 0; i < 2; i++) await send(alice, bob);
      await store.messages.ack(bob, 'laptop', 7);
      expect(await kept(bob)).toEqual(range(7, 8));
      expect((await store.messages.openDevice(bob, 'laptop')).activeDevices).toBe(1);
      const phone = await store.messages.openDevice(bob, 'phone');
      expect(phone).toEqual({ ackedSeq: 7, lastSeq: 8, reset: true, epoch: 0, activeDevices: 2 });
      expect((await store.messages.readInbox(bob, phone.ackedSeq, 10)).map((e) => e.seq)).toEqual([8]);
    });

    it('returns a device within the retention to where it was, holding back pruning all along', async () => {
      const { store, alice, bob, send, clock } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 4; i++) await send(alice, bob);
      await store.messages.ack(bob, 'phone', 1);
      clock.advance(CONTRACT_RETENTION_MS - DAY);
      await store.messages.ack(bob, 'laptop', 4);
      expect(await kept(bob)).toEqual(range(1, 4));
      expect(await store.messages.openDevice(bob, 'phone')).toEqual({
        ackedSeq: 1,
        lastSeq: 4,
        reset: false,
        epoch: 0,
        activeDevices: 2,
      });
      // Opening counts as activity: another almost-full window later the phone still holds.
      clock.advance(CONTRACT_RETENTION_MS - DAY);
      await store.messages.ack(bob, 'laptop', 4);
      expect(await kept(bob)).toEqual(range(1, 4));
    });

    it('keeps everything for a user whose every device has been away, and starts a newcomer there', async () => {
      const { store, alice, bob, send, clock } = ctx();
      await store.messages.openDevice(bob, 'laptop');
      await store.messages.openDevice(bob, 'phone');
      for (let i = 0; i < 3; i++) await send(alice, bob);
      await store.messages.ack(bob, 'laptop', 3);
      await store.messages.ack(bob, 'phone', 2);
      await ctx().settle(); // the floor follows acks within a second (MySQL: the pruner's next round)
      clock.advance(3 * CONTRACT_RETENTION_MS);
      for (let i = 0; i < 4; i++) await send(alice, bob);
      expect(await kept(bob)).toEqual(range(2, 7));
      const tablet = await store.messages.openDevice(bob, 'tablet');
      expect(tablet).toEqual({ ackedSeq: 2, lastSeq: 7, reset: true, epoch: 0, activeDevices: 1 });
      expect((await store.messages.readInbox(bob, 2, 10)).map((e) => e.seq)).toEqual(range(3, 7));
      // A returning device that missed nothing pruned continues where it was (no reset, no repeats).
      expect(await store.messages.openDevice(bob, 'laptop')).toEqual({
        ackedSeq: 3,
        lastSeq: 7,
        reset: false,
        epoch: 0,
        activeDevices: 2,
      });
      await store.messages.ack(bob, 'laptop', 7);
      expect(await kept(bob)).toEqual(range(2, 7)); // the tablet holds at 2
      await store.messages.ack(bob, 'tablet', 7);
      expect(await kept(bob)).toEqual([7]);
    });

    it('bumps each device epoch on its own and keeps it across sessions and retention resets', async () => {
      const { store, bob, clock } = ctx();
      expect((await store.messages.openDevice(bob, 'laptop')).epoch).toBe(0);
      await store.messages.openDevice(bob, 'phone');
      expect(await store.messages.bumpDeviceEpoch(bob, 'laptop')).toBe(1);
      expect(await store.messages.bumpDeviceEpoch(bob, 'laptop')).toBe(2);
      expect((await store.messages.openDevice(bob, 'laptop')).epoch).toBe(2);
      expect((await store.messages.openDevice(bob, 'phone')).epoch).toBe(0);
      clock.advance(2 * CONTRACT_RETENTION_MS);
      expect((await store.messages.openDevice(bob, 'laptop')).epoch).toBe(2);
      // A logout of a device that never opened a session: counted, but the device is not active.
      expect(await store.messages.bumpDeviceEpoch(bob, 'tv')).toBe(1);
      expect((await store.messages.openDevice(bob, 'laptop')).activeDevices).toBe(1);
      expect(await store.messages.openDevice(bob, 'tv')).toMatchObject({
        reset: true,
        epoch: 1,
        activeDevices: 2,
      });
    });

    it('counts the devices active within the retention', async () => {
      const { store, bob, clock } = ctx();
      expect((await store.messages.openDevice(bob, 'a')).activeDevices).toBe(1);
      expect((await store.messages.openDevice(bob, 'b')).activeDevices).toBe(2);
      expect((await store.messages.openDevice(bob, 'a')).activeDevices).toBe(2);
      clock.advance(CONTRACT_RETENTION_MS + DAY);
      expect((await store.messages.openDevice(bob, 'a')).activeDevices).toBe(1);
      expect((await store.messages.openDevice(bob, 'b')).activeDevices).toBe(2);
    });
  });
}
