import { beforeEach, describe, expect, it } from 'vitest';
import { MsgId } from '../../../src/protocol/msgids.js';
import { liveSession, protocolHarness, type FakeClient } from '../../helpers/protocol-harness.js';

type Harness = ReturnType<typeof protocolHarness>;

async function registered(client: FakeClient, name: string): Promise<number> {
  const reply = await client.ask({ msgid: MsgId.REG, name, password: 'pw' });
  expect(reply).toMatchObject({ msgid: MsgId.REG_ACK, errno: 0 });
  return reply.id as number;
}

async function loggedInV2(
  harness: Harness,
  name: string,
): Promise<{ client: FakeClient; id: number; token: string }> {
  const client = harness.client();
  const id = await registered(client, name);
  const reply = await client.ask({ msgid: MsgId.LOGIN, v: 2, id, password: 'pw', reqId: 'l' });
  expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, errno: 0, id, name, v: 2, reqId: 'l' });
  return { client, id, token: reply.token as string };
}

describe('dispatcher: bad input', () => {
  let harness: Harness;
  beforeEach(() => (harness = protocolHarness()));

  it.each([
    ['not JSON', 'hello world', 'BAD_MESSAGE', /invalid JSON/],
    ['an array', '[1,2,3]', 'BAD_MESSAGE', /JSON object/],
    ['no msgid', '{}', 'BAD_MESSAGE', /msgid/],
    ['msgid as a string', '{"msgid":"1"}', 'BAD_MESSAGE', /msgid/],
    ['unknown msgid', '{"msgid":99}', 'UNKNOWN_MSGID', /99/],
    ['chat before login', '{"msgid":6,"toid":1,"msg":"x"}', 'NOT_LOGGED_IN', /log in/],
  ])('answers %s with one %s error', async (_label, frame, code, message) => {
    const [reply, ...rest] = await harness.client().send(frame);
    expect(rest).toEqual([]);
    expect(reply).toMatchObject({ msgid: MsgId.ERROR, code });
    expect(reply!.errmsg).toMatch(message);
  });

  it('answers login with wrong field types in a LOGIN_MSG_ACK, which the old client waits for', async () => {
    const reply = await harness.client().ask({ msgid: MsgId.LOGIN, id: 'one', password: 1, reqId: 7 });
    expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, code: 'BAD_MESSAGE', reqId: 7 });
    expect(reply.errno).not.toBe(0);
  });

  it('echoes reqId on errors', async () => {
    expect(await harness.client().ask({ msgid: 99, reqId: 'abc' })).toMatchObject({ reqId: 'abc', re: 99 });
  });
});

describe('register and login', () => {
  let harness: Harness;
  beforeEach(() => (harness = protocolHarness()));

  it('registers (v1 shape), refuses a taken name with errno 1, empty names and long passwords', async () => {
    const client = harness.client();
    expect(await client.ask({ msgid: MsgId.REG, name: 'alice', password: 'pw' })).toEqual({
      msgid: MsgId.REG_ACK,
      errno: 0,
      id: 1,
    });
    expect(await client.ask({ msgid: MsgId.REG, name: 'ALICE', password: 'pw' })).toMatchObject({
      errno: 1,
      code: 'USER_EXISTS',
    });
    expect(await client.ask({ msgid: MsgId.REG, name: '', password: 'pw' })).toMatchObject({
      errno: 1,
      code: 'BAD_MESSAGE',
    });
    expect(await client.ask({ msgid: MsgId.REG, name: 'bob', password: 'x'.repeat(73) })).toMatchObject({
      errno: 1,
      code: 'BAD_MESSAGE',
    });
  });

  it('logs in v1 with the ancestor ack shape and errno 1 on bad credentials', async () => {
    const client = harness.client();
    const id = await registered(client, 'alice');
    expect(await client.ask({ msgid: MsgId.LOGIN, id, password: 'wrong' })).toEqual({
      msgid: MsgId.LOGIN_ACK,
      errno: 1,
      errmsg: 'id or password is invalid!',
      code: 'AUTH_BAD_CREDENTIALS',
    });
    expect(await client.ask({ msgid: MsgId.LOGIN, id: 999, password: 'pw' })).toMatchObject({ errno: 1 });
    expect(await client.ask({ msgid: MsgId.LOGIN, id, password: 'pw' })).toEqual({
      errno: 0,
      id,
      msgid: MsgId.LOGIN_ACK,
      name: 'alice',
    });
  });

  it('logs in v2 by name (any case) and returns a token and the inbox cursor', async () => {
    const client = harness.client();
    const id = await registered(client, 'Alice');
    const reply = await client.ask({ msgid: MsgId.LOGIN, v: 2, name: 'alice', password: 'pw' });
    expect(reply).toMatchObject({ errno: 0, id, name: 'Alice', v: 2, ackedSeq: 0, lastSeq: 0 });
    expect(reply.token).toEqual(expect.any(String));
  });

  it('skips bcrypt for a password verified moments ago, and only for that password', async () => {
    const client = harness.client();
    const id = await registered(client, 'repeat');
    const hasher = (
      harness.services.auth as unknown as { hasher: { verify: (...a: string[]) => Promise<boolean> } }
    ).hasher;
    const verify = hasher.verify.bind(hasher);
    let bcryptChecks = 0;
    hasher.verify = (...args) => {
      bcryptChecks++;
      return verify(...args);
    };
    for (let i = 0; i < 3; i++)
      expect(await client.ask({ msgid: MsgId.LOGIN, id, password: 'pw' })).toMatchObject({ errno: 0 });
    expect(bcryptChecks).toBe(1);
    expect(await client.ask({ msgid: MsgId.LOGIN, id, password: 'wrong' })).toMatchObject({ errno: 1 });
    expect(bcryptChecks).toBe(2);
  });

  it('backs off wrong passwords per (account, address); the owner still logs in from another address', async () => {
    const stranger = harness.client('198.51.100.7');
    const id = await registered(stranger, 'victim');
    for (let i = 0; i < 3; i++)
      expect(await stranger.ask({ msgid: MsgId.LOGIN, id, password: 'bad' })).toMatchObject({ errno: 1 });
    expect(await stranger.ask({ msgid: MsgId.LOGIN, id, password: 'bad' })).toMatchObject({
      msgid: MsgId.LOGIN_ACK,
      code: 'RATE_LIMITED',
      retryAfterMs: 1000,
    });
    // Even the right password waits out the backoff from that address…
    expect(await stranger.ask({ msgid: MsgId.LOGIN, id, password: 'pw' })).toMatchObject({
      code: 'RATE_LIMITED',
    });
    // …but the owner, elsewhere, is not locked out.
    const owner = harness.client('203.0.113.9');
    expect(await owner.ask({ msgid: MsgId.LOGIN, id, password: 'pw' })).toMatchObject({ errno: 0, id });
  });
});

describe('identity comes from the login', () => {
  it("refuses requests that claim another user id, including someone else's logout", async () => {
    const harness = protocolHarness();
    const { client, id } = await loggedInV2(harness, 'alice');
    const bob = await loggedInV2(harness, 'bob');
    for (const frame of [
      { msgid: MsgId.ONE_CHAT, id: bob.id, name: 'bob', toid: id, msg: 'forged' },
      { msgid: MsgId.LOGINOUT, id: bob.id },
      { msgid: MsgId.ADD_FRIEND, id: bob.id, friendid: id },
    ]) {
      expect(await client.ask(frame)).toMatchObject({ msgid: MsgId.ERROR, code: 'IDENTITY_MISMATCH' });
    }
    expect(bob.client.out.sent).toEqual([]);
    expect(liveSession(harness.services, bob.id)).toBeDefined();
  });

  it('refuses a foreign id on request types that have no id field, rather than ignoring it', async () => {
    const harness = protocolHarness();
    const { client } = await loggedInV2(harness, 'alice');
    const bob = await loggedInV2(harness, 'bob');
    for (const frame of [
      { msgid: MsgId.PING, id: bob.id },
      { msgid: MsgId.SYNC, id: bob.id, after: 0 },
      { msgid: MsgId.INBOX_ACK, id: bob.id, seq: 1, reqId: 1 },
    ]) {
      expect(await client.ask(frame)).toMatchObject({ msgid: MsgId.ERROR, code: 'IDENTITY_MISMATCH' });
    }
  });

  it('forwards the true sender id and name whatever name the message claims', async () => {
    const harness = protocolHarness();
    const alice = await loggedInV2(harness, 'alice');
    const bob = await loggedInV2(harness, 'bob');
    await alice.client.send({
      msgid: MsgId.ONE_CHAT,
      id: alice.id,
      name: 'not-alice',
      toid: bob.id,
      msg: 'hi',
    });
    expect(bob.client.out.take()).toEqual([
      expect.objectContaining({ msgid: MsgId.ONE_CHAT, id: alice.id, name: 'alice', msg: 'hi', seq: 1 }),
    ]);
  });
});

describe('chat, friends and groups (v2 replies)', () => {
  let harness: Harness;
  let alice: Awaited<ReturnType<typeof loggedInV2>>;
  let bob: Awaited<ReturnType<typeof loggedInV2>>;
  beforeEach(async () => {
    harness = protocolHarness();
    alice = await loggedInV2(harness, 'alice');
    bob = await loggedInV2(harness, 'bob');
  });

  it('acks a 1:1 send with the server id and delivers it with a sequence number', async () => {
    const [ack] = await alice.client.send({
      msgid: MsgId.ONE_CHAT,
      toid: bob.id,
      msg: 'hello',
      cmid: 'c1',
      reqId: 1,
    });
    expect(ack).toMatchObject({ msgid: MsgId.ACK, re: MsgId.ONE_CHAT, reqId: 1, mid: expect.any(Number) });
    expect(bob.client.out.take()).toEqual([
      expect.objectContaining({ mid: ack!.mid, seq: 1, toid: bob.id, msg: 'hello' }),
    ]);
  });

  it('stores a resend with the same cmid once and acks it with the same id', async () => {
    const first = await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'once', cmid: 'same' });
    const again = await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'once', cmid: 'same' });
    expect(again).toMatchObject({ mid: first.mid, duplicate: true });
    expect(bob.client.out.take()).toHaveLength(1);
  });

  it('refuses a cmid reused for another text or another target, instead of calling it a duplicate', async () => {
    await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'first', cmid: 'reused' });
    expect(
      await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'second', cmid: 'reused' }),
    ).toMatchObject({ msgid: MsgId.ERROR, code: 'CMID_CONFLICT' });
    expect(
      await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: alice.id, msg: 'first', cmid: 'reused' }),
    ).toMatchObject({ msgid: MsgId.ERROR, code: 'CMID_CONFLICT' });
    expect(bob.client.out.take()).toHaveLength(1);
  });

  it('refuses line breaks and other control characters from v2 senders (TAB is fine)', async () => {
    for (const msg of ['a\nb', 'a\rb', 'a\u001b[2Kb', 'a\u0085b']) {
      expect(await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg })).toMatchObject({
        code: 'BAD_MESSAGE',
        errmsg: expect.stringMatching(/control characters/),
      });
    }
    expect(await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'a\tb' })).toMatchObject({
      msgid: MsgId.ACK,
    });
    expect(
      await alice.client.ask({ msgid: MsgId.CREATE_GROUP, groupname: 'g', groupdesc: 'line\nbreak' }),
    ).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it('refuses chat to a missing user and empty or oversized messages', async () => {
    expect(await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: 999, msg: 'x' })).toMatchObject({
      code: 'USER_NOT_FOUND',
    });
    expect(await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: '' })).toMatchObject({
      code: 'BAD_MESSAGE',
    });
    expect(
      await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'x'.repeat(8001) }),
    ).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it('makes friendship mutual and reports self, missing and repeated adds', async () => {
    expect(await alice.client.ask({ msgid: MsgId.ADD_FRIEND, friendid: bob.id })).toMatchObject({
      msgid: MsgId.ACK,
      re: MsgId.ADD_FRIEND,
    });
    expect(await alice.client.ask({ msgid: MsgId.ADD_FRIEND, friendid: bob.id })).toMatchObject({
      code: 'ALREADY_FRIENDS',
    });
    expect(await bob.client.ask({ msgid: MsgId.ADD_FRIEND, friendid: alice.id })).toMatchObject({
      code: 'ALREADY_FRIENDS',
    });
    expect(await alice.client.ask({ msgid: MsgId.ADD_FRIEND, friendid: alice.id })).toMatchObject({
      code: 'SELF_FRIEND',
    });
    expect(await alice.client.ask({ msgid: MsgId.ADD_FRIEND, friendid: 999 })).toMatchObject({
      code: 'USER_NOT_FOUND',
    });
    expect(await bob.client.ask({ msgid: MsgId.FRIEND_LIST })).toMatchObject({
      msgid: MsgId.FRIEND_LIST_ACK,
      friends: [{ id: alice.id, name: 'alice', online: true }],
    });
  });

  it('creates, joins and lists groups; only members chat; fan-out skips the sender', async () => {
    const created = await alice.client.ask({ msgid: MsgId.CREATE_GROUP, groupname: 'g', groupdesc: 'd' });
    expect(created).toMatchObject({
      msgid: MsgId.ACK,
      re: MsgId.CREATE_GROUP,
      groupid: expect.any(Number),
      groupname: 'g',
    });
    const groupid = created.groupid as number;
    expect(await alice.client.ask({ msgid: MsgId.CREATE_GROUP, groupname: 'G' })).toMatchObject({
      code: 'GROUP_EXISTS',
    });
    expect(await bob.client.ask({ msgid: MsgId.GROUP_CHAT, groupid, msg: 'let me in' })).toMatchObject({
      code: 'NOT_MEMBER',
    });
    expect(await bob.client.ask({ msgid: MsgId.ADD_GROUP, groupid: 999 })).toMatchObject({
      code: 'GROUP_NOT_FOUND',
    });
    expect(await bob.client.ask({ msgid: MsgId.ADD_GROUP, groupid })).toMatchObject({
      msgid: MsgId.ACK,
      groupid,
    });
    expect(await bob.client.ask({ msgid: MsgId.ADD_GROUP, groupid })).toMatchObject({
      code: 'ALREADY_MEMBER',
    });
    expect(await bob.client.ask({ msgid: MsgId.GROUP_CHAT, groupid, msg: 'hi group' })).toMatchObject({
      msgid: MsgId.ACK,
    });
    expect(alice.client.out.take()).toEqual([
      expect.objectContaining({
        msgid: MsgId.GROUP_CHAT,
        groupid,
        groupname: 'g',
        id: bob.id,
        msg: 'hi group',
        seq: 1,
      }),
    ]);
    expect(bob.client.out.take()).toEqual([]);
    const list = await bob.client.ask({ msgid: MsgId.GROUP_LIST });
    expect(list).toMatchObject({ groups: [{ id: groupid, groupname: 'g', groupdesc: 'd' }] });
    expect((list.groups as { users: unknown[] }[])[0]!.users).toEqual([
      { id: alice.id, name: 'alice', role: 'creator', online: true },
      { id: bob.id, name: 'bob', role: 'normal', online: true },
    ]);
  });

  it('looks users up by name', async () => {
    expect(await alice.client.ask({ msgid: MsgId.USER_LOOKUP, name: 'BOB' })).toMatchObject({
      user: { id: bob.id, name: 'bob', online: true },
    });
    expect(await alice.client.ask({ msgid: MsgId.USER_LOOKUP, name: 'nobody' })).toMatchObject({
      code: 'USER_NOT_FOUND',
    });
  });

  it('returns history newest first with paging and refuses group history to non-members', async () => {
    for (let i = 1; i <= 3; i++)
      await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: `m${i}` });
    bob.client.out.take();
    const page = await bob.client.ask({ msgid: MsgId.HISTORY, with: alice.id, limit: 2 });
    expect(page).toMatchObject({ msgid: MsgId.HISTORY_ACK, more: true });
    expect((page.messages as { msg: string }[]).map((m) => m.msg)).toEqual(['m3', 'm2']);
    const before = (page.messages as { mid: number }[])[1]!.mid;
    const older = await bob.client.ask({ msgid: MsgId.HISTORY, with: alice.id, before });
    expect(older).toMatchObject({ more: false, messages: [{ msg: 'm1' }] });
    const { groupid } = await alice.client.ask({ msgid: MsgId.CREATE_GROUP, groupname: 'private' });
    expect(await bob.client.ask({ msgid: MsgId.HISTORY, groupid })).toMatchObject({ code: 'NOT_MEMBER' });
    expect(await bob.client.ask({ msgid: MsgId.HISTORY, groupid, with: 1 })).toMatchObject({
      code: 'BAD_MESSAGE',
    });
  });

  it('syncs inbox pages and records acks', async () => {
    for (let i = 1; i <= 5; i++)
      await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: `s${i}` });
    bob.client.out.take();
    const page = await bob.client.ask({ msgid: MsgId.SYNC, after: 1, limit: 2 });
    expect(page).toMatchObject({ msgid: MsgId.SYNC_ACK, lastSeq: 5, more: true });
    expect((page.messages as { seq: number }[]).map((m) => m.seq)).toEqual([2, 3]);
    // Without reqId an ack is a notification: recorded, not answered.
    expect(await bob.client.send({ msgid: MsgId.INBOX_ACK, seq: 3 })).toEqual([]);
    await liveSession(harness.services, bob.id)!.acks.flush();
    expect(await harness.services.messages.cursor(bob.id, 'default')).toEqual({ ackedSeq: 3, lastSeq: 5 });
    expect(await bob.client.ask({ msgid: MsgId.INBOX_ACK, seq: 4, reqId: 'a' })).toMatchObject({
      msgid: MsgId.ACK,
      re: MsgId.INBOX_ACK,
      reqId: 'a',
      seq: 4,
    });
    await liveSession(harness.services, bob.id)!.acks.flush();
    expect(await harness.services.messages.cursor(bob.id, 'default')).toEqual({ ackedSeq: 4, lastSeq: 5 });
    // Errors are answered either way.
    expect(await bob.client.ask({ msgid: MsgId.INBOX_ACK, seq: -1 })).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it('answers ping with pong', async () => {
    expect(await alice.client.ask({ msgid: MsgId.PING, reqId: 'p' })).toMatchObject({
      msgid: MsgId.PONG,
      reqId: 'p',
      ts: expect.any(Number),
    });
  });

  it('logs out, revoking the token; the connection can log in again', async () => {
    expect(await alice.client.ask({ msgid: MsgId.LOGINOUT })).toMatchObject({
      msgid: MsgId.ACK,
      re: MsgId.LOGINOUT,
    });
    expect(liveSession(harness.services, alice.id)).toBeUndefined();
    expect(await alice.client.ask({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'x' })).toMatchObject({
      code: 'NOT_LOGGED_IN',
    });
    const other = harness.client();
    expect(await other.ask({ msgid: MsgId.RESUME, v: 2, token: alice.token, lastSeq: 0 })).toMatchObject({
      msgid: MsgId.RESUME_ACK,
      code: 'TOKEN_INVALID',
    });
    expect(await alice.client.ask({ msgid: MsgId.LOGIN, v: 2, id: alice.id, password: 'pw' })).toMatchObject({
      errno: 0,
    });
  });
});

describe('sessions', () => {
  it('a second login takes over: the older v2 connection gets KICKED and is closed', async () => {
    const harness = protocolHarness();
    const first = await loggedInV2(harness, 'alice');
    const second = harness.client();
    expect(await second.ask({ msgid: MsgId.LOGIN, v: 2, id: first.id, password: 'pw' })).toMatchObject({
      errno: 0,
    });
    expect(first.client.out.take()).toEqual([
      expect.objectContaining({ msgid: MsgId.KICKED, code: 'KICKED' }),
    ]);
    expect(first.client.out.closeReason).toBe('KICKED');
    expect(liveSession(harness.services, first.id)?.sink.sessionId).toBe(second.context.session?.sessionId);
  });

  it('two logins of one user at the same time leave exactly one live session, which gets messages', async () => {
    const harness = protocolHarness();
    const first = harness.client();
    const id = await registered(first, 'twice');
    const sender = await loggedInV2(harness, 'sender');
    const second = harness.client();
    // A slow bus (a Redis round trip): each login's kick goes out while the other attaches.
    const bus = (
      harness.services.sessions as unknown as { bus: { publish: (events: unknown[]) => Promise<void> } }
    ).bus;
    const publish = bus.publish.bind(bus);
    bus.publish = async (events) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return publish(events);
    };
    await Promise.all([
      first.send({ msgid: MsgId.LOGIN, v: 2, id, password: 'pw' }),
      second.send({ msgid: MsgId.LOGIN, v: 2, id, password: 'pw' }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    bus.publish = publish;
    await new Promise((resolve) => setImmediate(resolve));
    const open = [first, second].filter((c) => !c.out.closed);
    expect(open).toHaveLength(1);
    const live = liveSession(harness.services, id);
    expect(live?.sessionId).toBe(open[0]!.context.session?.sessionId);
    open[0]!.out.take();
    await sender.client.send({ msgid: MsgId.ONE_CHAT, toid: id, msg: 'to the winner' });
    expect(open[0]!.out.take()).toEqual([expect.objectContaining({ msg: 'to the winner' })]);
  });

  it('a takeover closes an older v1 connection without any message it does not know', async () => {
    const harness = protocolHarness();
    const old = harness.client();
    const id = await registered(old, 'legacy');
    await old.send({ msgid: MsgId.LOGIN, id, password: 'pw' });
    await harness.client().send({ msgid: MsgId.LOGIN, id, password: 'pw' });
    expect(old.out.take()).toEqual([]);
    expect(old.out.closed).toBe(true);
  });

  it('does not leave a session behind when the connection closes while its login is in flight', async () => {
    const harness = protocolHarness();
    const client = harness.client();
    const id = await registered(client, 'flaky');
    const login = client.send({ msgid: MsgId.LOGIN, v: 2, id, password: 'pw' });
    client.out.close('CLIENT_CLOSED');
    await client.context.endSession();
    await login;
    expect(liveSession(harness.services, id)).toBeUndefined();
  });

  it('resume re-attaches without the password and replays what follows lastSeq', async () => {
    const harness = protocolHarness();
    const alice = await loggedInV2(harness, 'alice');
    const bob = await loggedInV2(harness, 'bob');
    for (let i = 1; i <= 3; i++)
      await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: `r${i}` });
    bob.client.out.close('CLIENT_CLOSED');
    await bob.client.context.endSession();
    const again = harness.client();
    const replies = await again.send({ msgid: MsgId.RESUME, v: 2, token: bob.token, lastSeq: 1, reqId: 'r' });
    expect(replies[0]).toMatchObject({
      msgid: MsgId.RESUME_ACK,
      errno: 0,
      id: bob.id,
      reqId: 'r',
      ackedSeq: 1,
      lastSeq: 3,
    });
    expect(replies.slice(1).map((m) => m.seq)).toEqual([2, 3]);
    expect(await again.ask({ msgid: MsgId.RESUME, v: 2, token: 'forged.token', lastSeq: 0 })).toMatchObject({
      code: 'TOKEN_INVALID',
    });
  });

  it('v1 login of a device that has everything reads no inbox page, and still gets what arrives next', async () => {
    const harness = protocolHarness();
    const alice = await loggedInV2(harness, 'alice');
    const bobClient = harness.client();
    const bobId = await registered(bobClient, 'bob');
    await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bobId, msg: 'm1', time: 't' });
    const messages = harness.ports.store.messages;
    const readInbox = messages.readInbox.bind(messages);
    const reads: number[] = [];
    messages.readInbox = (userId, afterSeq, limit) => (
      reads.push(userId),
      readInbox(userId, afterSeq, limit)
    );
    // First login: one message waiting, read once for the reply (the pump then has nothing to read).
    const [first] = await bobClient.send({ msgid: MsgId.LOGIN, id: bobId, password: 'pw' });
    expect(first!.offlinemsg).toHaveLength(1);
    expect(reads).toEqual([bobId]);
    await liveSession(harness.services, bobId)!.acks.flush();
    // A repeat login on a new connection: nothing pending, nothing read.
    reads.length = 0;
    const again = harness.client();
    const [second, ...rest] = await again.send({ msgid: MsgId.LOGIN, id: bobId, password: 'pw' });
    expect(second).toMatchObject({ msgid: MsgId.LOGIN_ACK, errno: 0 });
    expect(second!.offlinemsg ?? []).toEqual([]);
    expect(rest).toEqual([]);
    expect(reads).toEqual([]);
    // What arrives next is delivered live.
    await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bobId, msg: 'm2', time: 't' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(again.out.take()).toMatchObject([{ msgid: MsgId.ONE_CHAT, msg: 'm2', toid: bobId }]);
  });

  it('v1 login puts offline messages in offlinemsg (JSON strings) and counts them delivered', async () => {
    const harness = protocolHarness({ V1_OFFLINE_BATCH: '2' });
    const alice = await loggedInV2(harness, 'alice');
    const bobClient = harness.client();
    const bobId = await registered(bobClient, 'bob');
    await alice.client.send({ msgid: MsgId.ADD_FRIEND, friendid: bobId });
    for (let i = 1; i <= 3; i++)
      await alice.client.send({ msgid: MsgId.ONE_CHAT, toid: bobId, msg: `o${i}`, time: 't' });
    const [ack, ...rest] = await bobClient.send({ msgid: MsgId.LOGIN, id: bobId, password: 'pw' });
    expect(ack).toMatchObject({
      msgid: MsgId.LOGIN_ACK,
      errno: 0,
      friends: [JSON.stringify({ id: alice.id, name: 'alice', state: 'online' })],
    });
    expect((ack!.offlinemsg as string[]).map((s) => JSON.parse(s) as unknown)).toEqual([
      { id: alice.id, msg: 'o1', msgid: MsgId.ONE_CHAT, name: 'alice', time: 't', toid: bobId },
      { id: alice.id, msg: 'o2', msgid: MsgId.ONE_CHAT, name: 'alice', time: 't', toid: bobId },
    ]);
    // The rest of the backlog follows as ordinary messages, in the v1 shape (no seq).
    expect(rest).toEqual([
      { id: alice.id, msg: 'o3', msgid: MsgId.ONE_CHAT, name: 'alice', time: 't', toid: bobId },
    ]);
    await liveSession(harness.services, bobId)!.acks.flush();
    expect(await harness.services.messages.cursor(bobId, 'default')).toEqual({ ackedSeq: 3, lastSeq: 3 });
  });
});
