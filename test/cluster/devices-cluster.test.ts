import { describe, expect, it } from 'vitest';
import { MsgId } from '../../src/protocol/msgids.js';
import { LineClient, type Frame } from '../helpers/line-client.js';
import { useTwoNodeCluster } from '../helpers/test-cluster.js';

// Devices, presence, typing and read state across two real nodes (MariaDB, Redis, nginx): each device is
// placed on a chosen node by connecting to that node's own port; everything else goes through nginx.
const cluster = useTwoNodeCluster();
let names = 0;
let requests = 0;

function ports(): [number, number] {
  const [one, two] = cluster.current.nodes;
  return [one!.chatPort, two!.chatPort];
}

async function ask(client: LineClient, frame: Frame): Promise<Frame> {
  const reqId = `r${++requests}`;
  client.sendLine({ ...frame, reqId });
  return client.next((f) => f.reqId === reqId, 10_000);
}

async function register(): Promise<{ id: number; name: string }> {
  const name = `dev${++names}-${Date.now() % 100_000}`;
  const client = await LineClient.open(cluster.current.port);
  const reply = await ask(client, { msgid: MsgId.REG, v: 2, name, password: 'pw' });
  client.close();
  expect(reply).toMatchObject({ errno: 0 });
  return { id: reply.id as number, name };
}

async function device(
  port: number,
  user: { id: number },
  name: string,
): Promise<LineClient & { token: string }> {
  const client = await LineClient.open(port);
  const reply = await ask(client, { msgid: MsgId.LOGIN, v: 2, id: user.id, password: 'pw', device: name });
  expect(reply).toMatchObject({ msgid: MsgId.LOGIN_ACK, errno: 0, device: name });
  return Object.assign(client, { token: reply.token as string });
}

async function befriend(a: { id: number }, b: { id: number }): Promise<void> {
  const client = await device(cluster.current.port, a, 'setup');
  expect(await ask(client, { msgid: MsgId.ADD_FRIEND, friendid: b.id })).toMatchObject({ msgid: MsgId.ACK });
  await ask(client, { msgid: MsgId.LOGINOUT });
  client.close();
}

const chat = (f: Frame) => f.msgid === MsgId.ONE_CHAT;

describe('devices across nodes', () => {
  it('delivers to two devices of one user on different nodes once and in order; own sends reach the other device', async () => {
    const [one, two] = ports();
    const bob = await register();
    const carol = await register();
    const laptop = await device(one, bob, 'laptop');
    const phone = await device(two, bob, 'phone');
    const sender = await device(cluster.current.port, carol, 'c');
    for (let i = 1; i <= 20; i++) sender.sendLine({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: `m${i}` });
    for (const client of [laptop, phone]) {
      const got: string[] = [];
      for (let i = 1; i <= 20; i++) got.push((await client.next(chat, 10_000)).msg as string);
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    }
    // Nothing more arrives (no duplicates): a ping's answer comes after anything still queued.
    for (const client of [laptop, phone]) {
      await ask(client, { msgid: MsgId.PING });
      expect(client.frames.filter(chat)).toEqual([]);
    }
    laptop.sendLine({ msgid: MsgId.ONE_CHAT, toid: carol.id, msg: 'from the laptop', cmid: 'own-1' });
    expect(await phone.next(chat, 10_000)).toMatchObject({
      msg: 'from the laptop',
      own: true,
      toid: carol.id,
    });
    expect(await sender.next(chat, 10_000)).toMatchObject({ msg: 'from the laptop' });
    for (const c of [laptop, phone, sender]) c.close();
  });

  it('a device that was offline gets only what it lacks; the other device’s acks do not count for it', async () => {
    const [one, two] = ports();
    const bob = await register();
    const carol = await register();
    const laptop = await device(one, bob, 'laptop');
    let phone = await device(two, bob, 'phone');
    const sender = await device(cluster.current.port, carol, 'c');
    await ask(sender, { msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'both saw this' });
    const first = await phone.next(chat, 10_000);
    await ask(phone, { msgid: MsgId.INBOX_ACK, seq: first.seq });
    phone.close();
    for (const msg of ['while away 1', 'while away 2'])
      await ask(sender, { msgid: MsgId.ONE_CHAT, toid: bob.id, msg });
    for (let i = 0; i < 3; i++) await laptop.next(chat, 10_000);
    await ask(laptop, { msgid: MsgId.INBOX_ACK, seq: 3 });
    phone = await device(one, bob, 'phone');
    const missed = [await phone.next(chat, 10_000), await phone.next(chat, 10_000)];
    expect(missed.map((m) => [m.msg, m.seq])).toEqual([
      ['while away 1', 2],
      ['while away 2', 3],
    ]);
    await ask(phone, { msgid: MsgId.PING });
    expect(phone.frames.filter(chat)).toEqual([]);
    for (const c of [laptop, phone, sender]) c.close();
  });
});

describe('presence, typing and receipts across nodes', () => {
  it('pushes presence to a friend on another node on login and logout, once per user', async () => {
    const [one, two] = ports();
    const alice = await register();
    const bob = await register();
    await befriend(alice, bob);
    const watcher = await device(two, alice, 'a');
    const laptop = await device(one, bob, 'laptop');
    const online = await watcher.nextOf(MsgId.PRESENCE, 5000);
    expect(online).toMatchObject({ id: bob.id, state: 'online', lastSeen: null });
    const phone = await device(two, bob, 'phone');
    await ask(laptop, { msgid: MsgId.LOGINOUT });
    await ask(phone, { msgid: MsgId.LOGINOUT });
    const offline = await watcher.nextOf(MsgId.PRESENCE, 5000);
    expect(offline).toMatchObject({ id: bob.id, state: 'offline' });
    expect(offline.lastSeen).toEqual(expect.any(Number));
    // One change each way, not one per device.
    await ask(watcher, { msgid: MsgId.PING });
    expect(watcher.frames.filter((f) => f.msgid === MsgId.PRESENCE)).toEqual([]);
    for (const c of [watcher, laptop, phone]) c.close();
  });

  it('relays typing across nodes with its expiry, and receipts that survive a restart', async () => {
    const [one, two] = ports();
    const alice = await register();
    const bob = await register();
    await befriend(alice, bob);
    const a = await device(one, alice, 'a');
    const b = await device(two, bob, 'b');
    a.sendLine({ msgid: MsgId.TYPING, to: bob.id, state: 'start' });
    expect(await b.nextOf(MsgId.TYPING, 5000)).toEqual({
      msgid: MsgId.TYPING,
      from: alice.id,
      to: bob.id,
      state: 'start',
      expiresInMs: 6000,
    });
    const sent = await ask(a, { msgid: MsgId.ONE_CHAT, toid: bob.id, msg: 'read me' });
    await b.next(chat, 10_000);
    expect(await ask(b, { msgid: MsgId.READ, with: alice.id, upTo: sent.mid })).toMatchObject({
      upTo: sent.mid,
    });
    expect(await a.nextOf(MsgId.READ, 5000)).toEqual({
      msgid: MsgId.READ,
      reader: bob.id,
      with: bob.id,
      upTo: sent.mid,
    });
    a.close();
    b.close();
    // Markers are stored: after both nodes restart, the sender's list still shows how far bob read.
    for (const node of cluster.current.nodes) {
      await node.stop();
      await node.start();
    }
    const again = await device(cluster.current.port, alice, 'a');
    const list = await ask(again, { msgid: MsgId.CONVERSATIONS });
    expect(list.conversations).toEqual([
      expect.objectContaining({ with: bob.id, peerReadUpTo: sent.mid, unread: 0 }),
    ]);
    again.close();
  });

  it('keeps unread counts right across devices on different nodes', async () => {
    const [one, two] = ports();
    const alice = await register();
    const bob = await register();
    const laptop = await device(one, bob, 'laptop');
    const phone = await device(two, bob, 'phone');
    const a = await device(cluster.current.port, alice, 'a');
    const mids: number[] = [];
    for (const msg of ['1', '2', '3', '4'])
      mids.push((await ask(a, { msgid: MsgId.ONE_CHAT, toid: bob.id, msg })).mid as number);
    const before = await ask(phone, { msgid: MsgId.CONVERSATIONS });
    expect(before.conversations).toEqual([expect.objectContaining({ with: alice.id, unread: 4 })]);
    await ask(laptop, { msgid: MsgId.READ, with: alice.id, upTo: mids[2] });
    expect(await phone.nextOf(MsgId.READ, 5000)).toMatchObject({
      reader: bob.id,
      with: alice.id,
      upTo: mids[2],
    });
    const after = await ask(phone, { msgid: MsgId.CONVERSATIONS });
    expect(after.conversations).toEqual([
      expect.objectContaining({ with: alice.id, unread: 1, readUpTo: mids[2] }),
    ]);
    for (const c of [laptop, phone, a]) c.close();
  });

  it('reports a friend offline within the presence TTL when their node is killed', async () => {
    const [one, two] = ports();
    const alice = await register();
    const bob = await register();
    await befriend(alice, bob);
    const watcher = await device(two, alice, 'a');
    await device(one, bob, 'b');
    expect(await watcher.nextOf(MsgId.PRESENCE, 5000)).toMatchObject({ id: bob.id, state: 'online' });
    const victim = cluster.current.nodes[0]!;
    await victim.stop('SIGKILL');
    // PRESENCE_TTL_MS is 3000 in this cluster; a sweep runs about every third of it.
    expect(await watcher.nextOf(MsgId.PRESENCE, 10_000)).toMatchObject({ id: bob.id, state: 'offline' });
    await victim.start();
    watcher.close();
  });
});
