import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MsgId } from '../../../src/protocol/msgids.js';
import { protocolHarness, type FakeClient } from '../../helpers/protocol-harness.js';

type Harness = ReturnType<typeof protocolHarness>;
type Frame = Record<string, unknown>;

/** Frames a client received that match `pattern` (kept in `client.out.sent` until taken). */
function received(client: FakeClient, pattern: Frame): Frame[] {
  return client.out.sent.filter((frame) => Object.entries(pattern).every(([k, v]) => frame[k] === v));
}

async function eventually(client: FakeClient, pattern: Frame): Promise<Frame> {
  return vi.waitFor(() => {
    const found = received(client, pattern);
    expect(found.length).toBeGreaterThan(0);
    return found[0]!;
  });
}

/** Sends a request and returns its reply (by reqId); pushed frames that came with it stay in `out.sent`. */
let requests = 0;
async function request(client: FakeClient, frame: Frame): Promise<Frame> {
  const reqId = `q${++requests}`;
  const frames = await client.send({ ...frame, reqId });
  const reply = frames.find((f) => f.reqId === reqId);
  client.out.sent.push(...frames.filter((f) => f !== reply));
  if (!reply) throw new Error(`no reply to ${JSON.stringify(frame)}: ${JSON.stringify(frames)}`);
  return reply;
}

/** Lets every bus microtask and store read in flight land. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('devices, presence, typing and read state (v2)', () => {
  let harness: Harness;
  const ids: Record<string, number> = {};

  async function login(
    name: string,
    device?: string,
    extra: Frame = {},
  ): Promise<FakeClient & { token: string }> {
    const client = harness.client();
    const reply = await request(client, {
      msgid: MsgId.LOGIN,
      v: 2,
      id: ids[name],
      password: 'pw',
      device,
      ...extra,
    });
    expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, errno: 0 });
    return Object.assign(client, { token: reply.token as string });
  }

  beforeEach(async () => {
    harness = protocolHarness({ MAX_DEVICES_PER_USER: '3', PRESENCE_GRACE_MS: '0' });
    const setup = harness.client();
    for (const name of ['alice', 'bob', 'carol']) {
      const reply = await request(setup, { msgid: MsgId.REG, name, password: 'pw' });
      ids[name] = reply.id as number;
    }
    const alice = await login('alice', 'setup');
    await alice.send({ msgid: MsgId.ADD_FRIEND, friendid: ids.bob });
    await alice.send({ msgid: MsgId.LOGINOUT });
  });

  it('keeps sessions of two devices open; both receive each message once, in order, acked on their own', async () => {
    const laptop = await login('bob', 'laptop');
    const phone = await login('bob', 'phone');
    const carol = await login('carol', 'c1');
    for (const msg of ['one', 'two', 'three'])
      await carol.send({ msgid: MsgId.ONE_CHAT, toid: ids.bob, msg });
    await settle();
    for (const device of [laptop, phone]) {
      expect(device.out.closed).toBe(false);
      expect(received(device, { msgid: MsgId.ONE_CHAT }).map((f) => [f.msg, f.seq])).toEqual([
        ['one', 1],
        ['two', 2],
        ['three', 3],
      ]);
    }
    await laptop.send({ msgid: MsgId.INBOX_ACK, seq: 3 });
    await phone.send({ msgid: MsgId.INBOX_ACK, seq: 1 });
    await settle();
    expect((await harness.services.messages.cursor(ids.bob!, 'laptop')).ackedSeq).toBe(3);
    expect((await harness.services.messages.cursor(ids.bob!, 'phone')).ackedSeq).toBe(1);
    // The phone comes back: only what it lacks is pushed.
    phone.context.disconnected('test');
    await settle();
    const again = await login('bob', 'phone');
    await settle();
    expect(received(again, { msgid: MsgId.ONE_CHAT }).map((f) => f.seq)).toEqual([2, 3]);
  });

  it('a login on the same device takes over only that device', async () => {
    const laptop = await login('bob', 'laptop');
    const phone = await login('bob', 'phone');
    const laptop2 = await login('bob', 'laptop');
    await settle();
    expect(laptop.out.closed).toBe(true);
    expect(received(laptop, { msgid: MsgId.KICKED })).toHaveLength(1);
    expect(phone.out.closed).toBe(false);
    expect(laptop2.out.closed).toBe(false);
  });

  it('refuses one device more than MAX_DEVICES_PER_USER and keeps the connection open', async () => {
    for (const device of ['a', 'b', 'c']) await login('bob', device);
    const fourth = harness.client();
    const reply = await request(fourth, {
      msgid: MsgId.LOGIN,
      v: 2,
      id: ids.bob,
      password: 'pw',
      device: 'd',
    });
    expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, code: 'TOO_MANY_DEVICES', errno: 52 });
    expect(fourth.out.closed).toBe(false);
    expect(fourth.context.user).toBeUndefined();
  });

  it('resumes a device away longer than the retention at the floor, saying reset', async () => {
    const clock = { t: Date.now(), now: () => clock.t };
    harness = protocolHarness({ DEVICE_RETENTION_DAYS: '1', PRESENCE_GRACE_MS: '0' }, {}, clock);
    const setup = harness.client();
    const bob = (await request(setup, { msgid: MsgId.REG, name: 'bob', password: 'pw' })).id as number;
    const carol = (await request(setup, { msgid: MsgId.REG, name: 'carol', password: 'pw' })).id as number;
    const phone = harness.client();
    const token = (
      await request(phone, { msgid: MsgId.LOGIN, v: 2, id: bob, password: 'pw', device: 'phone' })
    ).token as string;
    phone.context.disconnected('test');
    await settle();
    clock.t += 2 * 86_400_000;
    const laptop = harness.client();
    await request(laptop, { msgid: MsgId.LOGIN, v: 2, id: bob, password: 'pw', device: 'laptop' });
    const sender = harness.client();
    await request(sender, { msgid: MsgId.LOGIN, v: 2, id: carol, password: 'pw', device: 'c' });
    for (const msg of ['1', '2', '3']) await request(sender, { msgid: MsgId.ONE_CHAT, toid: bob, msg });
    await request(laptop, { msgid: MsgId.INBOX_ACK, seq: 3 });
    await settle();
    const back = harness.client();
    const resumed = await request(back, { msgid: MsgId.RESUME, v: 2, token, lastSeq: 0 });
    expect(resumed).toMatchObject({ errno: 0, device: 'phone', reset: true, ackedSeq: 3, lastSeq: 3 });
    await settle();
    // Nothing below the floor is pushed: a client continuing from ackedSeq sees no hole.
    expect(received(back, { msgid: MsgId.ONE_CHAT })).toEqual([]);
  });

  it('refuses a malformed device name', async () => {
    const client = harness.client();
    const reply = await request(client, {
      msgid: MsgId.LOGIN,
      v: 2,
      id: ids.bob,
      password: 'pw',
      device: 'a b',
    });
    expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, code: 'BAD_MESSAGE' });
    // The ancestor client's device name is not for v2 clients.
    const reserved = { msgid: MsgId.LOGIN, v: 2, id: ids.bob, password: 'pw', device: 'v1' };
    expect(await request(harness.client(), reserved)).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it("shows a v1 user's message to themself, though copies of their own sends are not shown", async () => {
    const v1 = harness.client();
    await v1.send({ msgid: MsgId.LOGIN, id: ids.carol, password: 'pw' });
    const frames = await v1.send({
      msgid: MsgId.ONE_CHAT,
      id: ids.carol,
      toid: ids.carol,
      msg: 'note to self',
    });
    await settle();
    const shown = [...frames, ...v1.out.take()].filter((f) => f.msgid === MsgId.ONE_CHAT);
    expect(shown).toEqual([expect.objectContaining({ msg: 'note to self', id: ids.carol, toid: ids.carol })]);
  });

  it("copies a user's own sends to their other devices (own:true) once they have several", async () => {
    const laptop = await login('alice', 'laptop');
    const phone = await login('alice', 'phone');
    const bob = await login('bob', 'b1');
    await laptop.send({ msgid: MsgId.ONE_CHAT, toid: ids.bob, msg: 'hi bob', cmid: 'm1' });
    await settle();
    const copy = await eventually(phone, { msgid: MsgId.ONE_CHAT, msg: 'hi bob' });
    expect(copy).toMatchObject({ own: true, id: ids.alice, toid: ids.bob, cmid: 'm1' });
    expect(received(bob, { msgid: MsgId.ONE_CHAT })).toHaveLength(1);
    expect(received(bob, { msgid: MsgId.ONE_CHAT })[0]!.own).toBeUndefined();
  });

  it('stores a message to oneself once, also for a user with several devices', async () => {
    const laptop = await login('alice', 'laptop');
    const phone = await login('alice', 'phone');
    await request(laptop, { msgid: MsgId.ONE_CHAT, toid: ids.alice, msg: 'note to self' });
    await settle();
    expect(received(phone, { msgid: MsgId.ONE_CHAT }).map((f) => [f.msg, f.seq])).toEqual([
      ['note to self', 1],
    ]);
    expect((await harness.services.messages.cursor(ids.alice!, 'phone')).lastSeq).toBe(1);
  });

  it('v1 and v2 devices coexist; the v1 client never sees copies of its own sends', async () => {
    const v2 = await login('alice', 'laptop');
    const v1 = harness.client();
    expect(await v1.send({ msgid: MsgId.LOGIN, id: ids.alice, password: 'pw' })).toContainEqual(
      expect.objectContaining({ msgid: MsgId.LOGIN_ACK, errno: 0 }),
    );
    await settle();
    expect(v2.out.closed).toBe(false);
    await v1.send({ msgid: MsgId.ONE_CHAT, id: ids.alice, toid: ids.bob, msg: 'from v1' });
    await settle();
    expect(await eventually(v2, { msgid: MsgId.ONE_CHAT, msg: 'from v1' })).toMatchObject({ own: true });
    expect(received(v1, { msgid: MsgId.ONE_CHAT })).toEqual([]);
    // A second v1 login takes over the first v1 session only.
    const v1b = harness.client();
    await v1b.send({ msgid: MsgId.LOGIN, id: ids.alice, password: 'pw' });
    await settle();
    expect(v1.out.closed).toBe(true);
    expect(v2.out.closed).toBe(false);
  });

  it("logout revokes that device's token only; everywhere ends every device", async () => {
    const laptop = await login('bob', 'laptop');
    const phone = await login('bob', 'phone');
    await laptop.send({ msgid: MsgId.LOGINOUT });
    const retry = harness.client();
    expect(await request(retry, { msgid: MsgId.RESUME, v: 2, token: laptop.token })).toMatchObject({
      code: 'TOKEN_INVALID',
    });
    expect(phone.out.closed).toBe(false);
    const phoneAgain = harness.client();
    phone.context.disconnected('test');
    await settle();
    const resumed = await request(phoneAgain, { msgid: MsgId.RESUME, v: 2, token: phone.token });
    expect(resumed).toMatchObject({ errno: 0, device: 'phone' });
    expect(
      await request(harness.client(), { msgid: MsgId.RESUME, v: 2, token: resumed.token, device: 'laptop' }),
    ).toMatchObject({ code: 'TOKEN_INVALID' });
    const tablet = await login('bob', 'tablet');
    await tablet.send({ msgid: MsgId.LOGINOUT, everywhere: true });
    await settle();
    expect(phoneAgain.out.closed).toBe(true);
    expect(received(phoneAgain, { msgid: MsgId.KICKED })).toEqual([
      expect.objectContaining({ everywhere: true, errmsg: 'this account logged out on every device' }),
    ]);
    expect(
      await request(harness.client(), { msgid: MsgId.RESUME, v: 2, token: resumed.token }),
    ).toMatchObject({
      code: 'TOKEN_INVALID',
    });
  });

  it('pushes presence to friends once per change, with the friends’ states at login', async () => {
    const bob = await login('bob', 'b1');
    const laptop = await login('alice', 'laptop');
    expect(await eventually(bob, { msgid: MsgId.PRESENCE, id: ids.alice })).toMatchObject({
      state: 'online',
      lastSeen: null,
    });
    const phone = await login('alice', 'phone');
    await settle();
    expect(received(bob, { msgid: MsgId.PRESENCE })).toHaveLength(1);
    bob.out.take();
    laptop.context.disconnected('test');
    await settle();
    expect(received(bob, { msgid: MsgId.PRESENCE })).toEqual([]);
    phone.context.disconnected('test');
    const offline = await eventually(bob, { msgid: MsgId.PRESENCE, id: ids.alice, state: 'offline' });
    expect(typeof offline.lastSeen).toBe('number');
    // Friends' states in the login reply and the friend list.
    const fresh = harness.client();
    const reply = await request(fresh, {
      msgid: MsgId.LOGIN,
      v: 2,
      id: ids.alice,
      password: 'pw',
      device: 'x',
    });
    expect(reply.friends).toEqual([
      { id: ids.bob, name: 'bob', online: true, state: 'online', lastSeen: null },
    ]);
  });

  it('tells friends of an offline only if it lasts PRESENCE_GRACE_MS: a quick reconnect makes no flicker', async () => {
    harness = protocolHarness({ PRESENCE_GRACE_MS: '150' });
    const setup = harness.client();
    const a = (await request(setup, { msgid: MsgId.REG, name: 'ann', password: 'pw' })).id as number;
    const b = (await request(setup, { msgid: MsgId.REG, name: 'ben', password: 'pw' })).id as number;
    const loginAs = async (id: number, device: string) => {
      const client = harness.client();
      await request(client, { msgid: MsgId.LOGIN, v: 2, id, password: 'pw', device });
      return client;
    };
    const ann = await loginAs(a, 'a1');
    await request(ann, { msgid: MsgId.ADD_FRIEND, friendid: b });
    const ben = await loginAs(b, 'b1');
    ann.context.disconnected('test');
    await settle();
    await loginAs(a, 'a1');
    await harness.services.presenceNotifier.settled();
    expect(received(ben, { msgid: MsgId.PRESENCE, state: 'offline' })).toEqual([]);
    expect(harness.services.presenceNotifier.counts.flickers).toBe(1);
    const again = [...harness.services.sessions.sessionsOf(a)][0]!;
    (again.sink as unknown as { disconnected(reason: string): void }).disconnected('test');
    await settle();
    await harness.services.presenceNotifier.settled();
    await settle();
    expect(received(ben, { msgid: MsgId.PRESENCE, state: 'offline' })).toHaveLength(1);
  });

  it('hidden users look offline to friends and say so in one event', async () => {
    const bob = await login('bob', 'b1');
    const alice = await login('alice', 'laptop');
    await eventually(bob, { msgid: MsgId.PRESENCE, state: 'online' });
    bob.out.take();
    expect(await request(alice, { msgid: MsgId.SETTINGS, presence: 'hidden', reqId: 1 })).toMatchObject({
      msgid: MsgId.SETTINGS_ACK,
      presence: 'hidden',
    });
    expect(await eventually(bob, { msgid: MsgId.PRESENCE, id: ids.alice })).toMatchObject({
      state: 'offline',
      lastSeen: null,
    });
    const list = await request(bob, { msgid: MsgId.FRIEND_LIST, reqId: 2 });
    expect(list.friends).toEqual([
      { id: ids.alice, name: 'alice', online: false, state: 'offline', lastSeen: null },
    ]);
    expect(await request(alice, { msgid: MsgId.SETTINGS, reqId: 3 })).toMatchObject({ presence: 'hidden' });
  });

  it('relays typing to a friend’s devices, refuses non-friends, drops what exceeds the budget', async () => {
    const laptop = await login('bob', 'laptop');
    const phone = await login('bob', 'phone');
    const alice = await login('alice', 'a1');
    laptop.out.take();
    phone.out.take();
    expect(await alice.send({ msgid: MsgId.TYPING, to: ids.bob, state: 'start' })).toEqual([]);
    for (const device of [laptop, phone])
      expect(await eventually(device, { msgid: MsgId.TYPING })).toEqual({
        msgid: MsgId.TYPING,
        from: ids.alice,
        to: ids.bob,
        state: 'start',
        expiresInMs: 6000,
      });
    expect(
      await request(alice, { msgid: MsgId.TYPING, to: ids.carol, state: 'start', reqId: 1 }),
    ).toMatchObject({
      code: 'NOT_FRIENDS',
    });
  });

  it('drops typing notices beyond TYPING_PER_S', async () => {
    harness = protocolHarness({}, { typingPerS: 2 });
    const setup = harness.client();
    const a = (await request(setup, { msgid: MsgId.REG, name: 'ann', password: 'pw' })).id as number;
    const b = (await request(setup, { msgid: MsgId.REG, name: 'ben', password: 'pw' })).id as number;
    const ann = harness.client();
    await request(ann, { msgid: MsgId.LOGIN, v: 2, id: a, password: 'pw' });
    await request(ann, { msgid: MsgId.ADD_FRIEND, friendid: b });
    const ben = harness.client();
    await request(ben, { msgid: MsgId.LOGIN, v: 2, id: b, password: 'pw' });
    ben.out.take();
    // The harness has no request budget; the typing budget is its own (a real session: see client-session.test).
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await ann.send({ msgid: MsgId.TYPING, to: b, state: 'start', reqId: i }));
    expect(results.flat().filter((r) => r.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(1);
    await settle();
    expect(received(ben, { msgid: MsgId.TYPING }).length).toBeLessThanOrEqual(2);
  });

  it('stores read markers forward only, tells the other devices and the peer, and lists conversations', async () => {
    const laptop = await login('bob', 'laptop');
    const phone = await login('bob', 'phone');
    const alice = await login('alice', 'a1');
    const mids: number[] = [];
    for (const msg of ['m1', 'm2', 'm3']) {
      const ack = await request(alice, { msgid: MsgId.ONE_CHAT, toid: ids.bob, msg, reqId: msg });
      mids.push(ack.mid as number);
    }
    let list = await request(laptop, { msgid: MsgId.CONVERSATIONS, reqId: 'c' });
    expect(list.conversations).toEqual([
      expect.objectContaining({ with: ids.alice, name: 'alice', unread: 3, readUpTo: 0 }),
    ]);
    alice.out.take();
    phone.out.take();
    expect(
      await request(laptop, { msgid: MsgId.READ, with: ids.alice, upTo: mids[1], reqId: 'r' }),
    ).toMatchObject({
      msgid: MsgId.ACK,
      re: MsgId.READ,
      with: ids.alice,
      upTo: mids[1],
    });
    await settle();
    // The device that marked knows; only the other one is told.
    expect(received(laptop, { msgid: MsgId.READ })).toEqual([]);
    expect(await eventually(phone, { msgid: MsgId.READ })).toEqual({
      msgid: MsgId.READ,
      reader: ids.bob,
      with: ids.alice,
      upTo: mids[1],
    });
    expect(await eventually(alice, { msgid: MsgId.READ })).toEqual({
      msgid: MsgId.READ,
      reader: ids.bob,
      with: ids.bob,
      upTo: mids[1],
    });
    // Backwards is ignored; the reply says where the marker is.
    expect(
      await request(phone, { msgid: MsgId.READ, with: ids.alice, upTo: mids[0], reqId: 'r2' }),
    ).toMatchObject({ upTo: mids[1] });
    list = await request(phone, { msgid: MsgId.CONVERSATIONS, reqId: 'c2' });
    expect(list.conversations).toEqual([
      expect.objectContaining({ with: ids.alice, unread: 1, readUpTo: mids[1] }),
    ]);
    const mine = await request(alice, { msgid: MsgId.CONVERSATIONS, reqId: 'c3' });
    expect(mine.conversations).toEqual([expect.objectContaining({ with: ids.bob, peerReadUpTo: mids[1] })]);
    expect(await request(alice, { msgid: MsgId.READ_MARKERS, with: ids.bob, reqId: 'k' })).toMatchObject({
      msgid: MsgId.READ_MARKERS_ACK,
      markers: [{ id: ids.bob, upTo: mids[1] }],
    });
  });

  it('relays group typing to the other members only; group receipts are pulled, not pushed', async () => {
    const alice = await login('alice', 'a1');
    const bob = await login('bob', 'b1');
    const carol = await login('carol', 'c1');
    const created = await request(alice, { msgid: MsgId.CREATE_GROUP, groupname: 'team', reqId: 'g' });
    const groupid = created.groupid as number;
    await request(bob, { msgid: MsgId.ADD_GROUP, groupid, reqId: 'j' });
    for (const c of [alice, bob, carol]) c.out.take();
    await alice.send({ msgid: MsgId.TYPING, groupid, state: 'start' });
    expect(await eventually(bob, { msgid: MsgId.TYPING })).toMatchObject({
      from: ids.alice,
      groupid,
      state: 'start',
    });
    await settle();
    expect(received(alice, { msgid: MsgId.TYPING })).toEqual([]);
    expect(received(carol, { msgid: MsgId.TYPING })).toEqual([]);
    expect(await request(carol, { msgid: MsgId.TYPING, groupid, state: 'start', reqId: 't' })).toMatchObject({
      code: 'NOT_MEMBER',
    });
    const sent = await request(alice, { msgid: MsgId.GROUP_CHAT, groupid, msg: 'hello team', reqId: 's' });
    await request(bob, { msgid: MsgId.READ, groupid, upTo: sent.mid, reqId: 'r' });
    await settle();
    expect(received(alice, { msgid: MsgId.READ })).toEqual([]);
    expect(await request(alice, { msgid: MsgId.READ_MARKERS, groupid, reqId: 'm' })).toMatchObject({
      groupid,
      markers: [{ id: ids.bob, upTo: sent.mid }],
    });
    expect(await request(carol, { msgid: MsgId.READ_MARKERS, groupid, reqId: 'm2' })).toMatchObject({
      code: 'NOT_MEMBER',
    });
  });

  it('answers bad typing/read requests with clear errors', async () => {
    const alice = await login('alice', 'a1');
    expect(
      await request(alice, { msgid: MsgId.TYPING, to: ids.bob, groupid: 1, state: 'start', reqId: 1 }),
    ).toMatchObject({ code: 'BAD_MESSAGE' });
    expect(
      await request(alice, { msgid: MsgId.TYPING, to: ids.bob, state: 'maybe', reqId: 2 }),
    ).toMatchObject({
      code: 'BAD_MESSAGE',
    });
    expect(await request(alice, { msgid: MsgId.READ, groupid: 99, upTo: 1, reqId: 3 })).toMatchObject({
      code: 'GROUP_NOT_FOUND',
    });
    expect(await request(alice, { msgid: MsgId.READ, with: 999, upTo: 1, reqId: 4 })).toMatchObject({
      code: 'USER_NOT_FOUND',
    });
    expect(await request(alice, { msgid: MsgId.CONVERSATIONS, limit: 0, reqId: 5 })).toMatchObject({
      code: 'BAD_MESSAGE',
    });
    expect(await request(alice, { msgid: MsgId.SETTINGS, presence: 'invisible', reqId: 6 })).toMatchObject({
      code: 'BAD_MESSAGE',
    });
    expect(
      await request(harness.client(), { msgid: MsgId.TYPING, to: ids.bob, state: 'start', reqId: 7 }),
    ).toMatchObject({ code: 'NOT_LOGGED_IN' });
  });
});
