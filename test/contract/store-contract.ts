import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { ChatStore, MessageDraft, Target, UserId } from '../../src/service/ports.js';
import type { Clock } from '../../src/util/clock.js';
import { deviceContract } from './store-device-contract.js';
import { readContract } from './store-read-contract.js';

/** What a store under test is built with: a clock the suite moves by hand, and the device retention. */
export interface StoreEnv {
  readonly clock: Clock;
  readonly deviceRetentionMs: number;
}

/** Hooks for work a store defers (MySQL: the floor and pruning, about a second after acks). */
export interface StoreContractOptions {
  /** Finishes deferred maintenance now, so its effects can be asserted. */
  readonly settle?: (store: ChatStore) => Promise<void>;
}

/** The retention every contract store is built with. */
export const CONTRACT_RETENTION_MS = 30 * 86_400_000;

/** A hand-driven clock: `advance` moves it. */
export class ManualClock implements Clock {
  private ms = Date.UTC(2026, 0, 1);
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The users and helpers every part of the contract works with, fresh per test. */
export interface ContractContext {
  readonly store: ChatStore;
  readonly clock: ManualClock;
  readonly alice: UserId;
  readonly bob: UserId;
  readonly carol: UserId;
  /** The store's deferred work, done (a no-op for stores without any). */
  settle(): Promise<void>;
  /** Appends a 1:1 message from `from` to `to`, delivered to `to`'s inbox only; resolves to its id. */
  send(from: UserId, to: UserId, body?: string): Promise<number>;
  /** Appends a group message, delivered to `recipients`; resolves to its id. */
  sendToGroup(from: UserId, groupId: number, recipients: readonly UserId[], body?: string): Promise<number>;
}

/**
 * The behaviour every ChatStore must have, run by the embedded store's unit tests and the MySQL store's
 * integration tests: `storeContract('memory', (env) => Promise.resolve(createMemoryStore(env.clock, …)))`.
 */
export function storeContract(
  name: string,
  makeStore: (env: StoreEnv) => Promise<ChatStore>,
  options: StoreContractOptions = {},
): void {
  describe(`ChatStore contract: ${name}`, () => {
    let store: ChatStore;
    let alice: UserId;
    let bob: UserId;
    let carol: UserId;
    let clock: ManualClock;
    let context: ContractContext;

    beforeEach(async () => {
      clock = new ManualClock();
      store = await makeStore({ clock, deviceRetentionMs: CONTRACT_RETENTION_MS });
      const tag = Math.random().toString(36).slice(2, 8);
      alice = (await store.users.create(`alice-${tag}`, 'hash-a')).id;
      bob = (await store.users.create(`bob-${tag}`, 'hash-b')).id;
      carol = (await store.users.create(`carol-${tag}`, 'hash-c')).id;
      const current = store;
      const append = async (from: UserId, target: Target, recipients: readonly UserId[], body: string) =>
        (
          await current.messages.append(
            { senderId: from, target, body, clientTime: 't', cmid: null },
            recipients,
          )
        ).message.id;
      context = {
        store,
        clock,
        alice,
        bob,
        carol,
        settle: () => options.settle?.(current) ?? Promise.resolve(),
        send: (from, to, body = 'hi') => append(from, { kind: 'user', id: to }, [to], body),
        sendToGroup: (from, groupId, recipients, body = 'hi all') =>
          append(from, { kind: 'group', id: groupId }, recipients, body),
      };
    });

    afterEach(() => store.close());

    const draft = (senderId: UserId, to: UserId, body: string, cmid: string | null = null): MessageDraft => ({
      senderId,
      target: { kind: 'user', id: to },
      body,
      clientTime: '2026-01-01 00:00:00',
      cmid,
    });

    describe('users', () => {
      it('assigns distinct ids and finds users by id and by name regardless of case', async () => {
        const user = await store.users.create('Dora-Ünïcode-名字', 'h');
        expect(await store.users.findById(user.id)).toMatchObject({
          id: user.id,
          name: 'Dora-Ünïcode-名字',
          passwordHash: 'h',
        });
        expect((await store.users.findByName('dora-üNÏcode-名字'))?.id).toBe(user.id);
        expect(await store.users.findById(999_999_999)).toBeUndefined();
        expect(await store.users.findByName('nobody-here')).toBeUndefined();
      });

      it('refuses a taken name with USER_EXISTS, also in another case', async () => {
        await store.users.create('Eve', 'h');
        await expect(store.users.create('eve', 'h')).rejects.toMatchObject({ code: 'USER_EXISTS' });
        await expect(store.users.create('Eve', 'h')).rejects.toBeInstanceOf(AppError);
      });

      it('stores the presence setting: visible by default, hidden once set, visible again', async () => {
        expect((await store.users.findById(alice))!.presenceHidden).toBe(false);
        await store.users.setPresenceHidden(alice, true);
        expect((await store.users.findById(alice))!.presenceHidden).toBe(true);
        expect(
          (await store.users.findByName((await store.users.findById(alice))!.name))!.presenceHidden,
        ).toBe(true);
        expect((await store.users.findById(bob))!.presenceHidden).toBe(false);
        await store.users.setPresenceHidden(alice, true);
        expect((await store.users.findById(alice))!.presenceHidden).toBe(true);
        await store.users.setPresenceHidden(alice, false);
        expect((await store.users.findById(alice))!.presenceHidden).toBe(false);
        await expect(store.users.setPresenceHidden(999_999_999, true)).rejects.toMatchObject({
          code: 'USER_NOT_FOUND',
        });
      });

      it('bumps the session epoch monotonically', async () => {
        const before = (await store.users.findById(alice))!.sessionEpoch;
        expect(await store.users.bumpSessionEpoch(alice)).toBe(before + 1);
        expect((await store.users.findById(alice))!.sessionEpoch).toBe(before + 1);
      });

      it('returns summaries only for existing ids', async () => {
        const found = await store.users.findSummaries([alice, 999_999_999, bob]);
        expect(found.map((u) => u.id).sort()).toEqual([alice, bob].sort());
      });
    });

    describe('friends', () => {
      it('makes friendship mutual and reports a repeat', async () => {
        expect(await store.friends.add(alice, bob)).toBe(true);
        expect(await store.friends.add(bob, alice)).toBe(false);
        expect((await store.friends.list(alice)).map((f) => f.id)).toEqual([bob]);
        expect((await store.friends.list(bob)).map((f) => f.id)).toEqual([alice]);
        expect(await store.friends.list(carol)).toEqual([]);
      });
    });

    describe('groups', () => {
      it('creates a group with its creator, adds normal members once, lists them with roles', async () => {
        const group = await store.groups.create(alice, `g-${alice}`, 'desc');
        expect(await store.groups.find(group.id)).toEqual({ id: group.id, name: `g-${alice}`, desc: 'desc' });
        expect(await store.groups.addMember(group.id, bob)).toBe(true);
        expect(await store.groups.addMember(group.id, bob)).toBe(false);
        expect(await store.groups.isMember(group.id, bob)).toBe(true);
        expect(await store.groups.isMember(group.id, carol)).toBe(false);
        expect((await store.groups.memberIds(group.id)).sort()).toEqual([alice, bob].sort());
        const [listed] = await store.groups.listForUser(bob);
        expect(listed).toMatchObject({ id: group.id, desc: 'desc' });
        expect(listed!.members).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ id: alice, role: 'creator' }),
            expect.objectContaining({ id: bob, role: 'normal' }),
          ]),
        );
        expect(await store.groups.listForUser(carol)).toEqual([]);
      });

      it('refuses a taken group name with GROUP_EXISTS', async () => {
        await store.groups.create(alice, `dup-${alice}`, '');
        await expect(store.groups.create(bob, `DUP-${alice}`, '')).rejects.toMatchObject({
          code: 'GROUP_EXISTS',
        });
      });

      it('knows no missing group', async () => {
        expect(await store.groups.find(999_999_999)).toBeUndefined();
      });
    });

    describe('messages and inboxes', () => {
      it('appends to each recipient inbox with gap-free sequences starting at 1', async () => {
        const first = await store.messages.append(draft(alice, bob, 'one'), [bob]);
        const second = await store.messages.append(draft(carol, bob, 'two'), [bob]);
        expect(first.duplicate).toBe(false);
        expect(first.deliveries).toEqual([{ userId: bob, seq: 1 }]);
        expect(second.deliveries).toEqual([{ userId: bob, seq: 2 }]);
        expect(second.message.id).toBeGreaterThan(first.message.id);
        expect(first.message).toMatchObject({
          senderId: alice,
          body: 'one',
          clientTime: '2026-01-01 00:00:00',
          target: { kind: 'user', id: bob },
        });
        expect(first.message.senderName).toMatch(/^alice-/);
        expect(await store.messages.cursor(bob, 'phone')).toEqual({ ackedSeq: 0, lastSeq: 2 });
      });

      it('fans a group message out to many inboxes in one append', async () => {
        const group = await store.groups.create(alice, `fan-${alice}`, '');
        const result = await store.messages.append(
          { ...draft(alice, 0, 'hi all'), target: { kind: 'group', id: group.id } },
          [bob, carol],
        );
        expect(result.deliveries).toEqual(
          expect.arrayContaining([
            { userId: bob, seq: 1 },
            { userId: carol, seq: 1 },
          ]),
        );
        expect(result.message.groupName).toBe(`fan-${alice}`);
        const [entry] = await store.messages.readInbox(carol, 0, 10);
        expect(entry).toMatchObject({
          seq: 1,
          message: { body: 'hi all', target: { kind: 'group', id: group.id } },
        });
      });

      it('stores a resend with the same cmid once and returns the original', async () => {
        const first = await store.messages.append(draft(alice, bob, 'once', 'c-1'), [bob]);
        const again = await store.messages.append(draft(alice, bob, 'once', 'c-1'), [bob]);
        expect(again.duplicate).toBe(true);
        expect(again.deliveries).toEqual([]);
        expect(again.message.id).toBe(first.message.id);
        expect((await store.messages.cursor(bob, 'phone')).lastSeq).toBe(1);
        // The same cmid from another sender is another message.
        const other = await store.messages.append(draft(carol, bob, 'other', 'c-1'), [bob]);
        expect(other.duplicate).toBe(false);
      });

      it('reads inbox pages after a sequence, in order', async () => {
        for (let i = 1; i <= 7; i++) await store.messages.append(draft(alice, bob, `m${i}`), [bob]);
        const page = await store.messages.readInbox(bob, 2, 3);
        expect(page.map((e) => e.seq)).toEqual([3, 4, 5]);
        expect(page.map((e) => e.message.body)).toEqual(['m3', 'm4', 'm5']);
        expect((await store.messages.readInbox(bob, 7, 10)).length).toBe(0);
        expect(await store.messages.readInbox(carol, 0, 10)).toEqual([]);
      });

      it("moves a device's ack cursor forward only, never past the last sequence", async () => {
        for (let i = 1; i <= 3; i++) await store.messages.append(draft(alice, bob, `m${i}`), [bob]);
        await store.messages.openDevice(bob, 'phone');
        await store.messages.ack(bob, 'phone', 2);
        await store.messages.ack(bob, 'phone', 1);
        expect(await store.messages.cursor(bob, 'phone')).toEqual({ ackedSeq: 2, lastSeq: 3 });
        await store.messages.ack(bob, 'phone', 99);
        expect(await store.messages.cursor(bob, 'phone')).toEqual({ ackedSeq: 3, lastSeq: 3 });
        expect(await store.messages.cursor(carol, 'phone')).toEqual({ ackedSeq: 0, lastSeq: 0 });
      });

      it('keeps unacked messages readable however many arrive', async () => {
        await store.messages.openDevice(bob, 'phone');
        for (let i = 1; i <= 2500; i++) await store.messages.append(draft(alice, bob, `m${i}`), [bob]);
        await store.messages.ack(bob, 'phone', 2000);
        await context.settle();
        const rest = await store.messages.readInbox(bob, 2000, 1000);
        expect(rest.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => 2001 + i));
      });

      it('returns 1:1 history from both sides, newest first, paged by id', async () => {
        const ids: number[] = [];
        for (let i = 1; i <= 5; i++) {
          const from = i % 2 ? alice : bob;
          ids.push(
            (
              await store.messages.append(draft(from, from === alice ? bob : alice, `h${i}`), [
                from === alice ? bob : alice,
              ])
            ).message.id,
          );
        }
        await store.messages.append(draft(alice, carol, 'not in this conversation'), [carol]);
        const newest = await store.messages.history({
          userId: bob,
          target: { kind: 'user', id: alice },
          beforeId: undefined,
          limit: 2,
        });
        expect(newest.map((m) => m.body)).toEqual(['h5', 'h4']);
        const older = await store.messages.history({
          userId: alice,
          target: { kind: 'user', id: bob },
          beforeId: newest[1]!.id,
          limit: 10,
        });
        expect(older.map((m) => m.body)).toEqual(['h3', 'h2', 'h1']);
      });

      it('returns group history', async () => {
        const group = await store.groups.create(alice, `hist-${alice}`, '');
        await store.messages.append(
          { ...draft(alice, 0, 'g1'), target: { kind: 'group', id: group.id } },
          [],
        );
        await store.messages.append({ ...draft(bob, 0, 'g2'), target: { kind: 'group', id: group.id } }, [
          alice,
        ]);
        const history = await store.messages.history({
          userId: carol,
          target: { kind: 'group', id: group.id },
          beforeId: undefined,
          limit: 10,
        });
        expect(history.map((m) => m.body)).toEqual(['g2', 'g1']);
      });

      it('gives every later message a larger id, also within one burst, so history follows send order', async () => {
        const before = await store.messages.append(draft(alice, bob, 'before'), [bob]);
        // One burst (one batch where the store batches): senders and recipients mixed.
        const burst = await Promise.all(
          Array.from({ length: 30 }, (_, i) => {
            const [from, to] = i % 3 === 0 ? [alice, bob] : i % 3 === 1 ? [bob, alice] : [carol, bob];
            return store.messages.append(draft(from, to, `b${i}`), [to]);
          }),
        );
        const after = await store.messages.append(draft(bob, alice, 'after'), [alice]);
        const ids = [before, ...burst, after].map((r) => r.message.id);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(new Set(ids).size).toBe(ids.length);
        const history = await store.messages.history({
          userId: alice,
          target: { kind: 'user', id: bob },
          beforeId: undefined,
          limit: 100,
        });
        const expected = ['before', ...burst.map((r) => r.message.body), 'after'].filter(
          (body) => body === 'before' || body === 'after' || Number(body.slice(1)) % 3 !== 2,
        );
        expect(history.map((m) => m.body).reverse()).toEqual(expected);
        // Each inbox lists the burst in id order too.
        const inbox = await store.messages.readInbox(bob, 0, 100);
        const inboxIds = inbox.map((e) => e.message.id);
        expect(inboxIds).toEqual([...inboxIds].sort((x, y) => x - y));
      });

      it('stores a cmid repeated within one burst once, beside the other messages of the burst', async () => {
        const results = await Promise.all([
          store.messages.append(draft(alice, bob, 'x', 'same'), [bob]),
          store.messages.append(draft(carol, bob, 'fresh 1', 'other'), [bob]),
          store.messages.append(draft(alice, bob, 'x', 'same'), [bob]),
          store.messages.append(draft(carol, bob, 'fresh 2', null), [bob]),
          store.messages.append(draft(alice, bob, 'x', 'same'), [bob]),
        ]);
        expect(results.map((r) => r.duplicate)).toEqual([false, false, true, false, true]);
        expect(results[2].message.id).toBe(results[0].message.id);
        expect(results[4].message.id).toBe(results[0].message.id);
        expect(results.flatMap((r) => r.deliveries.map((d) => d.seq)).sort()).toEqual([1, 2, 3]);
        const inbox = await store.messages.readInbox(bob, 0, 10);
        expect(inbox.map((e) => e.message.body)).toEqual(['x', 'fresh 1', 'fresh 2']);
        expect(await store.messages.cursor(bob, 'd')).toEqual({ ackedSeq: 0, lastSeq: 3 });
      });

      it('answers a resend of an earlier message inside a burst of new ones, numbering only the new ones', async () => {
        const first = await store.messages.append(draft(alice, bob, 'first', 'c-old'), [bob]);
        const results = await Promise.all([
          store.messages.append(draft(carol, bob, 'new 1'), [bob]),
          store.messages.append(draft(alice, bob, 'first', 'c-old'), [bob]),
          store.messages.append(draft(carol, bob, 'new 2', 'c-new'), [bob]),
        ]);
        expect(results[1]).toMatchObject({
          duplicate: true,
          deliveries: [],
          message: { id: first.message.id },
        });
        expect(results[0].deliveries).toEqual([{ userId: bob, seq: 2 }]);
        expect(results[2].deliveries).toEqual([{ userId: bob, seq: 3 }]);
        expect(results[2].message.id).toBeGreaterThan(results[0].message.id);
        expect((await store.messages.readInbox(bob, 0, 10)).map((e) => e.message.body)).toEqual([
          'first',
          'new 1',
          'new 2',
        ]);
      });

      it('allocates sequences without races under concurrent appends', async () => {
        const sends = Array.from({ length: 50 }, (_, i) =>
          store.messages.append(draft(i % 2 ? alice : carol, bob, `c${i}`), [bob]),
        );
        const results = await Promise.all(sends);
        const seqs = results.map((r) => r.deliveries[0]!.seq).sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      });
    });

    deviceContract(() => context);
    readContract(() => context);
  });
}
