import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryDeviceStore } from '../../../src/client/device-id.js';
import {
  ParleyClient,
  type ChatMessage,
  type Presence,
  type ReadEvent,
  type TypingEvent,
} from '../../../src/client/parley-client.js';
import { FakeServer, ManualTimers } from './fake-server.js';

let server: FakeServer;
let client: ParleyClient;
let timers: ManualTimers;

beforeEach(async () => {
  server = await FakeServer.start();
  timers = new ManualTimers();
  server.friends = [
    { id: 2, name: 'bob', state: 'online', lastSeen: null },
    { id: 3, name: 'carol', state: 'offline', lastSeen: 1_789_999_000_000 },
  ];
  client = new ParleyClient({
    host: '127.0.0.1',
    port: server.port,
    transport: 'tcp',
    deviceStore: memoryDeviceStore('laptop-1'),
    clock: timers.clock,
    timers,
    ackDelayMs: 1,
    backoffMinMs: 1,
    backoffMaxMs: 5,
  });
  await client.connect();
  await client.login({ name: 'alice' }, 'pw');
});

afterEach(async () => {
  client.close();
  await server.close();
});

/** Resolves with the next event's argument. */
const next = <T>(name: string) => once(client, name).then(([value]) => value as T);

/** A delivery frame from `from` to alice (id 1), or alice's own with `own`. */
const delivery = (seq: number, fields: Record<string, unknown>) => ({
  msgid: 6,
  id: 2,
  name: 'bob',
  toid: 1,
  msg: `m${seq}`,
  time: 't',
  mid: 100 + seq,
  ts: 0,
  seq,
  ...fields,
});

describe('presence', () => {
  it('knows friends’ states from the login reply', () => {
    expect(client.loginFriends).toEqual([
      { id: 2, name: 'bob', state: 'online', lastSeen: null },
      { id: 3, name: 'carol', state: 'offline', lastSeen: 1_789_999_000_000 },
    ]);
    expect(client.presenceOf(3)).toEqual({ id: 3, state: 'offline', lastSeen: 1_789_999_000_000 });
    expect(client.presenceOf(9)).toBeUndefined();
  });

  it('emits pushed changes and keeps the latest state', async () => {
    const event = next<Presence>('presence');
    server.push({ msgid: 30, id: 2, state: 'offline', lastSeen: 1_790_000_000_500 });
    expect(await event).toEqual({ id: 2, state: 'offline', lastSeen: 1_790_000_000_500 });
    expect(client.presenceOf(2)?.state).toBe('offline');
    const back = next<Presence>('presence');
    server.push({ msgid: 30, id: 2, state: 'online', lastSeen: null });
    expect(await back).toEqual({ id: 2, state: 'online', lastSeen: null });
  });

  it('after a resume, announces the changes it missed while away (and only those)', async () => {
    const seen: Presence[] = [];
    client.on('presence', (p) => seen.push(p));
    server.friends = [
      { id: 2, name: 'bob', state: 'online', lastSeen: null },
      { id: 3, name: 'carol', state: 'online', lastSeen: null },
    ];
    const resumed = next('resumed');
    server.cut();
    await resumed;
    expect(seen).toEqual([{ id: 3, state: 'online', lastSeen: null }]);
  });

  it('reads the older friend-list shape (online flag) into presence too', async () => {
    server.answer(23, () => ({ msgid: 24, friends: [{ id: 4, name: 'dan', online: true }] }));
    expect(await client.friends()).toEqual([{ id: 4, name: 'dan', online: true }]);
    expect(client.presenceOf(4)).toEqual({ id: 4, state: 'online', lastSeen: null });
  });

  it('hides and shows presence, and reads the setting', async () => {
    server.answer(37, (frame) => ({ msgid: 38, presence: frame.presence ?? 'hidden' }));
    expect(await client.setPresence('hidden')).toEqual({ presence: 'hidden' });
    expect(await client.setPresence('visible')).toEqual({ presence: 'visible' });
    expect(await client.getSettings()).toEqual({ presence: 'hidden' });
    expect(server.frames(37).map(({ presence }) => presence)).toEqual(['hidden', 'visible', undefined]);
  });
});

describe('typing hints received', () => {
  it('emits every notification but typingChanged once per start, and expires the hint by itself', async () => {
    const changes: (readonly number[])[] = [];
    client.on('typingChanged', ({ typers }) => changes.push(typers));
    const first = next<TypingEvent>('typing');
    server.push({ msgid: 31, from: 2, to: 1, state: 'start', expiresInMs: 6000 });
    expect(await first).toEqual({
      from: 2,
      target: { with: 2 },
      state: 'start',
      expiresAt: timers.now + 6000,
    });
    expect(client.typingNow({ with: 2 })).toEqual([2]);
    timers.advance(4000);
    const refresh = next('typing');
    server.push({ msgid: 31, from: 2, to: 1, state: 'start', expiresInMs: 6000 });
    await refresh;
    expect(changes).toEqual([[2]]); // a refresh is not a change
    timers.advance(5999); // 6 s after the refresh, not after the first start
    expect(client.typingNow({ with: 2 })).toEqual([2]);
    timers.advance(1);
    expect(client.typingNow({ with: 2 })).toEqual([]);
    expect(changes).toEqual([[2], []]);
  });

  it('drops the hint on stop, and on a message from that user in that conversation', async () => {
    const changed = () => next<{ typers: number[] }>('typingChanged');
    let change = changed();
    server.push({ msgid: 31, from: 2, to: 1, state: 'start', expiresInMs: 6000 });
    await change;
    change = changed();
    server.push({ msgid: 31, from: 2, to: 1, state: 'stop' });
    expect((await change).typers).toEqual([]);

    change = changed();
    server.push({ msgid: 31, from: 2, to: 1, state: 'start', expiresInMs: 6000 });
    await change;
    change = changed();
    server.push(delivery(1, {}));
    expect(await change).toEqual({ target: { with: 2 }, typers: [] });
    expect(timers.pending).toBe(0);
  });

  it('tracks group typing per group, and several typers at once', async () => {
    let change = next<{ typers: number[] }>('typingChanged');
    server.push({ msgid: 31, from: 2, groupid: 5, state: 'start', expiresInMs: 6000 });
    expect(await change).toEqual({ target: { groupid: 5 }, typers: [2] });
    change = next('typingChanged');
    server.push({ msgid: 31, from: 3, groupid: 5, state: 'start', expiresInMs: 3000 });
    expect((await change).typers).toEqual([2, 3]);
    expect(client.typingNow({ with: 2 })).toEqual([]); // the group is not the 1:1
    timers.advance(3000);
    expect(client.typingNow({ groupid: 5 })).toEqual([2]);
    // A group message from 2 ends 2's hint in the group.
    change = next('typingChanged');
    server.push(delivery(1, { toid: undefined, groupid: 5, groupname: 'team' }));
    expect((await change).typers).toEqual([]);
  });

  it('forgets hints when the session ends', async () => {
    const change = next('typingChanged');
    server.push({ msgid: 31, from: 2, to: 1, state: 'start', expiresInMs: 6000 });
    await change;
    await client.logout();
    expect(client.typingNow({ with: 2 })).toEqual([]);
    expect(timers.pending).toBe(0);
  });
});

describe('typing notifications sent', () => {
  it('sends start at most every 3 s per conversation while typing goes on, and stop once', async () => {
    expect(await client.typing({ with: 2 })).toBe(true);
    expect(server.frames(31).at(-1)).toMatchObject({ msgid: 31, to: 2, state: 'start' });
    timers.advance(1000);
    expect(await client.typing({ with: 2 }, 'start')).toBe(false);
    expect(await client.typing({ groupid: 5 })).toBe(true); // another conversation has its own pace
    timers.advance(1999);
    expect(await client.typing({ with: 2 })).toBe(false);
    timers.advance(1);
    expect(await client.typing({ with: 2 })).toBe(true);
    expect(await client.typing({ with: 2 }, 'stop')).toBe(true);
    expect(await client.typing({ with: 2 }, 'stop')).toBe(false);
    expect(await client.typing({ with: 2 })).toBe(true); // after a stop, a new start goes at once
    expect(server.frames(31).map(({ to, groupid, state }) => [to ?? `g${String(groupid)}`, state])).toEqual([
      [2, 'start'],
      ['g5', 'start'],
      [2, 'start'],
      [2, 'stop'],
      [2, 'start'],
    ]);
  });

  it('starts afresh after a message to that conversation (the peer dropped the hint)', async () => {
    server.answer(6, () => ({ msgid: 12, re: 6, mid: 7, ts: 0 }));
    expect(await client.typing({ with: 2 })).toBe(true);
    await client.sendTo(2, 'hi');
    expect(await client.typing({ with: 2 })).toBe(true);
    expect(server.frames(31)).toHaveLength(2);
  });

  it('sends nothing while disconnected, and passes the server’s refusal on', async () => {
    server.answer(31, (frame) => ({
      msgid: 11,
      errno: 27,
      code: 'NOT_FRIENDS',
      errmsg: 'not your friend',
      re: 31,
      ...(frame.to === 9 ? {} : { msgid: 12 }),
    }));
    await expect(client.typing({ with: 9 })).rejects.toMatchObject({ code: 'NOT_FRIENDS' });
    const lost = next('disconnected');
    server.answer(20, () => undefined); // the resume hangs: the client stays disconnected
    server.cut();
    await lost;
    expect(await client.typing({ with: 2 })).toBe(false);
    expect(server.frames(31)).toHaveLength(1);
  });
});

describe('read markers', () => {
  it('marks a 1:1 or a group read and says where the marker is now', async () => {
    server.answer(32, (frame) => ({ msgid: 12, re: 32, ...frame, upTo: Math.max(50, frame.upTo as number) }));
    expect(await client.markRead({ with: 2 }, 44)).toEqual({ target: { with: 2 }, upTo: 50 });
    expect(await client.markRead({ groupid: 5 }, 60)).toEqual({ target: { groupid: 5 }, upTo: 60 });
    expect(server.frames(32).map(({ with: w, groupid, upTo }) => [w, groupid, upTo])).toEqual([
      [2, undefined, 44],
      [undefined, 5, 60],
    ]);
  });

  it('asks for a conversation’s markers', async () => {
    server.answer(33, () => ({
      msgid: 34,
      groupid: 5,
      markers: [
        { id: 1, upTo: 44 },
        { id: 3, upTo: 40 },
      ],
    }));
    expect(await client.readMarkers({ groupid: 5 })).toEqual([
      { id: 1, upTo: 44 },
      { id: 3, upTo: 40 },
    ]);
    expect(server.frames(33)[0]).toMatchObject({ groupid: 5 });
  });

  it('does not report this device’s own mark coming back as a read elsewhere', async () => {
    const reads: ReadEvent[] = [];
    client.on('read', (r) => reads.push(r));
    server.answer(32, (frame, connection) => {
      connection.write({ msgid: 32, reader: 1, with: frame.with, upTo: frame.upTo });
      return { msgid: 12, re: 32, with: frame.with, upTo: frame.upTo };
    });
    await client.markRead({ with: 2 }, 44);
    const later = next<ReadEvent>('read');
    server.push({ msgid: 32, reader: 1, with: 2, upTo: 45 }); // another device read further
    expect(await later).toMatchObject({ kind: 'own', upTo: 45 });
    expect(reads).toHaveLength(1);
  });

  it('tells reads on this user’s other devices from the peer’s receipts', async () => {
    let event = next<ReadEvent>('read');
    server.push({ msgid: 32, reader: 1, with: 2, upTo: 44 });
    expect(await event).toEqual({ kind: 'own', reader: 1, target: { with: 2 }, upTo: 44 });
    event = next<ReadEvent>('read');
    server.push({ msgid: 32, reader: 2, with: 2, upTo: 45 });
    expect(await event).toEqual({ kind: 'receipt', reader: 2, target: { with: 2 }, upTo: 45 });
    event = next<ReadEvent>('read');
    server.push({ msgid: 32, reader: 1, groupid: 5, upTo: 46 });
    expect(await event).toEqual({ kind: 'own', reader: 1, target: { groupid: 5 }, upTo: 46 });
  });
});

describe('conversation list', () => {
  it('pages with before/limit and returns typed entries', async () => {
    server.answer(35, () => ({
      msgid: 36,
      conversations: [
        {
          with: 2,
          name: 'bob',
          last: { id: 2, msg: 'see you', msgid: 6, name: 'bob', time: 't', toid: 1, mid: 51, ts: 5 },
          readUpTo: 48,
          unread: 3,
          peerReadUpTo: 50,
        },
        { groupid: 5, name: 'team', last: null, readUpTo: 0, unread: 0 },
      ],
      more: true,
    }));
    const page = await client.conversations({ before: 60, limit: 2 });
    expect(server.frames(35)[0]).toMatchObject({ before: 60, limit: 2 });
    expect(page.more).toBe(true);
    expect(page.conversations).toEqual([
      {
        target: { with: 2 },
        name: 'bob',
        last: { mid: 51, from: { id: 2, name: 'bob' }, toid: 1, msg: 'see you', time: 't', ts: 5 },
        readUpTo: 48,
        unread: 3,
        peerReadUpTo: 50,
      },
      { target: { groupid: 5 }, name: 'team', last: undefined, readUpTo: 0, unread: 0 },
    ]);
    await client.conversations();
    expect(Object.keys(server.frames(35)[1]!).sort()).toEqual(['msgid', 'reqId']);
  });
});

describe('own messages', () => {
  it('flags the echo of this client’s send (matched by cmid, even before the ack), and acks it', async () => {
    // The echo is stored in alice's inbox and pushed before the send's ack comes back.
    server.answer(6, (frame, connection) => {
      connection.write(
        delivery(1, { id: 1, name: 'alice', toid: 2, own: true, cmid: frame.cmid, msg: frame.msg, mid: 7 }),
      );
      return { msgid: 12, re: 6, mid: 7, ts: 0 };
    });
    const got = next<ChatMessage>('message');
    expect(await client.sendTo(2, 'hello', 'c-1')).toBe(7);
    expect(await got).toMatchObject({ mid: 7, own: true, echoOfOwnSend: true, toid: 2, msg: 'hello' });
    expect(await server.nth(15)).toMatchObject({ seq: 1 });
  });

  it('flags an echo without cmid by its mid, or by the send in flight', async () => {
    server.answer(6, () => ({ msgid: 12, re: 6, mid: 7, ts: 0 }));
    await client.sendTo(2, 'first');
    let got = next<ChatMessage>('message');
    server.push(delivery(1, { id: 1, name: 'alice', toid: 2, own: true, msg: 'first', mid: 7 }));
    expect((await got).echoOfOwnSend).toBe(true);
    server.answer(6, (frame, connection) => {
      connection.write(delivery(2, { id: 1, name: 'alice', toid: 2, own: true, msg: frame.msg, mid: 8 }));
      return { msgid: 12, re: 6, mid: 8, ts: 0 };
    });
    got = next<ChatMessage>('message');
    await client.sendTo(2, 'second');
    expect((await got).echoOfOwnSend).toBe(true);
  });

  it('shows messages sent from another device as own, not as an echo', async () => {
    const got = next<ChatMessage>('message');
    server.push(delivery(1, { id: 1, name: 'alice', toid: 2, own: true, cmid: 'from-the-phone' }));
    const message = await got;
    expect(message).toMatchObject({ own: true, toid: 2, from: { id: 1 } });
    expect(message.echoOfOwnSend).toBeUndefined();
  });
});

describe('logout', () => {
  it('logs this device out, or every device (a KICKED that brings is no takeover)', async () => {
    await client.logout();
    expect(server.frames(3)[0]).toEqual({ msgid: 3, reqId: expect.any(Number) });
    await client.login({ name: 'alice' }, 'pw');
    let kicked = false;
    client.on('kicked', () => (kicked = true));
    server.answer(3, (frame, connection) => {
      connection.write({ msgid: 22, errno: 45, code: 'KICKED', errmsg: 'logged out everywhere' });
      connection.socket.end();
      return frame.everywhere === true ? undefined : { msgid: 12, re: 3 };
    });
    await client.logout({ everywhere: true });
    expect(server.frames(3)[1]).toMatchObject({ everywhere: true });
    expect(kicked).toBe(false);
    expect(client.user).toBeUndefined();
  });
});
