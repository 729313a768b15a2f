import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import type { UserRecord } from '../../src/service/ports.js';
import { LegacyClient, type ShownMessage } from '../../scripts/lib/legacy-client.js';
import { liveSession } from '../helpers/protocol-harness.js';
import { startTestApp } from '../helpers/test-app.js';

// The ancestor's C++ ChatClient, emulated strictly (scripts/lib/legacy-client.ts): one recv(1024) per
// read, exactly one JSON document per read, abort on anything else, no acks. It must never abort on what
// Parley sends, and nothing it did not show may count as delivered.

let app: RunningApp | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

const PASSWORD = 'pw';

async function start(env: Record<string, string> = {}): Promise<RunningApp> {
  app = await startTestApp({ V1_ACK_SETTLE_MS: '200', ...env });
  return app;
}

async function users(node: RunningApp, prefix: string, count: number): Promise<UserRecord[]> {
  const out: UserRecord[] = [];
  for (let i = 0; i < count; i++)
    out.push(await node.services.auth.register(`${prefix}${i}`, PASSWORD, '127.0.0.1'));
  return out;
}

function send(node: RunningApp, from: UserRecord, to: UserRecord, body: string) {
  return node.services.messages.send({ senderId: from.id, target: { kind: 'user', id: to.id }, body });
}

async function loggedIn(node: RunningApp, user: UserRecord, readDelayMs = 0): Promise<LegacyClient> {
  const client = await LegacyClient.open(node.chatPort, '127.0.0.1', { readDelayMs });
  expect((await client.login(user.id, PASSWORD)).errno).toBe(0);
  return client;
}

const bodies = (shown: readonly ShownMessage[]) => shown.map((m) => m.msg);

describe('the original ChatClient against Parley', () => {
  it.each([0, 12, 150])(
    'logs in with %i offline messages and shows them all, in order, once',
    async (count) => {
      const node = await start();
      const [alice, bob] = await users(node, `off${count}-`, 2);
      const sent = Array.from({ length: count }, (_, i) => `offline ${i} ${'x'.repeat(i % 40)}`);
      for (const body of sent) await send(node, alice!, bob!, body);
      const client = await loggedIn(node, bob!, 1);
      await client.waitShown(count);
      // Nothing more comes, and the client is still running.
      const probe = await send(node, alice!, bob!, 'probe');
      await client.waitShown(count + 1);
      expect(bodies(client.shown)).toEqual([...sent, probe.message.body]);
      expect(client.alive).toBe(true);
      expect(client.reads).toBe(1 + count + 1 - client.shown.filter((m) => m.via === 'offline').length);
    },
  );

  it('logs in as a member of a 10- and a 1000-member group and with 50 friends, lists shortened visibly', async () => {
    const node = await start();
    const [me, ...others] = await users(node, 'big', 1001);
    for (const friend of others.slice(0, 50)) await node.services.social.addFriend(me!.id, friend.id);
    const small = await node.services.social.createGroup(me!.id, 'ten', 'a small group');
    for (const member of others.slice(0, 9)) await node.services.social.joinGroup(member.id, small.id);
    const large = await node.services.social.createGroup(others[0]!.id, 'thousand', 'everyone');
    for (const member of [me!, ...others.slice(1)]) await node.services.social.joinGroup(member.id, large.id);
    const client = await LegacyClient.open(node.chatPort);
    const ack = await client.login(me!.id, PASSWORD);
    expect(ack.errno).toBe(0);
    expect(client.alive).toBe(true);
    // Some friends, then a marker that says how many more there are.
    const marker = ack.friends.at(-1)!;
    expect(marker).toMatchObject({ id: 0, name: expect.stringMatching(/^\(\+\d+ more friends/) });
    expect(ack.friends.length - 1 + Number(/\+(\d+)/.exec(marker.name)![1])).toBe(50);
    // Each group's roster is shortened with a member marker; the 1000-member group is listed.
    const names = ack.groups.map((g) => g.groupname);
    expect(names.filter((n) => n === 'ten' || n === 'thousand' || n.startsWith('(+')).length).toBe(
      names.length,
    );
    for (const group of ack.groups.filter((g) => g.id !== 0)) {
      const last = group.users.at(-1)!;
      const total = group.groupname === 'ten' ? 10 : 1000;
      const listed =
        last.id === 0 ? group.users.length - 1 + Number(/\+(\d+)/.exec(last.name)![1]) : group.users.length;
      expect(listed).toBe(total);
    }
  });

  it('shows bursts of 100 messages from several senders at once without a merged read', async () => {
    const node = await start();
    const [bob, ...senders] = await users(node, 'burst', 5);
    const client = await loggedIn(node, bob!, 1);
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) sends.push(send(node, senders[i % 4]!, bob!, `burst ${i}`));
    await Promise.all(sends);
    await client.waitShown(100);
    expect(client.alive).toBe(true);
    expect(new Set(bodies(client.shown)).size).toBe(100);
    // Per sender, in the order sent.
    for (let s = 0; s < 4; s++) {
      const mine = client.shown
        .filter((m) => m.id === senders[s]!.id)
        .map((m) => Number(m.msg.split(' ')[1]));
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  });

  it('gets a 5000-character message in numbered parts that each fit, whole when joined', async () => {
    const node = await start();
    const [alice, bob] = await users(node, 'long', 2);
    const client = await loggedIn(node, bob!);
    const alphabet = [...'aé"\\中😀\t'];
    const body = Array.from({ length: 5000 }, (_, i) => alphabet[i % alphabet.length]).join('');
    await send(node, alice!, bob!, body);
    await vi.waitFor(() => expect(client.shown.at(-1)?.msg).toMatch(/^\((\d+)\/\1\) /), 10_000);
    const parts = client.shown.map((m) => m.msg);
    const total = parts.length;
    expect(total).toBeGreaterThan(4);
    parts.forEach((part, i) => expect(part.startsWith(`(${i + 1}/${total}) `)).toBe(true));
    expect(parts.map((part) => part.slice(part.indexOf(') ') + 2)).join('')).toBe(body);
    expect(client.alive).toBe(true);
  });

  it('shows a forged second line as one line with a visible marker', async () => {
    const node = await start();
    const [alice, bob] = await users(node, 'forge', 2);
    const client = await loggedIn(node, bob!);
    await send(
      node,
      alice!,
      bob!,
      'hi\n2026-11-27 11:00:00 [1]alice said: please send me your password\r\x1b[2K',
    );
    await client.waitShown(1);
    expect(client.shown[0]!.msg).toBe(
      'hi␊2026-11-27 11:00:00 [1]alice said: please send me your password␍␛[2K',
    );
  });

  it('delivers again, once, what a client that crashed right after delivery may not have shown', async () => {
    const node = await start({ V1_ACK_SETTLE_MS: '60000' });
    const [alice, bob] = await users(node, 'crash', 2);
    const first = await loggedIn(node, bob!);
    for (let i = 0; i < 5; i++) await send(node, alice!, bob!, `m${i}`);
    await first.waitShown(5);
    first.crash();
    await vi.waitFor(() => expect(liveSession(node.services, bob!.id)).toBeUndefined());
    const second = await loggedIn(node, bob!);
    await second.waitShown(5);
    expect(bodies(second.shown)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    // Requests prove the client alive past them (the second one, for what came before the first).
    second.addFriend(bob!.id, alice!.id);
    second.addFriend(bob!.id, alice!.id);
    await vi.waitFor(async () =>
      expect((await node.services.messages.cursor(bob!.id, 'v1')).ackedSeq).toBe(5),
    );
    second.quit();
  });

  it('when made to abort on purpose, loses nothing it had not shown; duplicates are counted', async () => {
    const node = await start({ V1_ACK_SETTLE_MS: '60000' });
    const [alice, bob] = await users(node, 'abort', 2);
    const first = await LegacyClient.open(node.chatPort, '127.0.0.1', { abortAfterReads: 11 });
    expect((await first.login(bob!.id, PASSWORD)).errno).toBe(0);
    const sent = Array.from({ length: 40 }, (_, i) => `a${i}`);
    for (const body of sent) await send(node, alice!, bob!, body);
    expect(await first.waitEnd()).toMatchObject({ kind: 'abort' });
    expect(first.shown).toHaveLength(10);
    await vi.waitFor(() => expect(liveSession(node.services, bob!.id)).toBeUndefined());
    const second = await loggedIn(node, bob!);
    const missing = sent.filter((body) => !bodies(first.shown).includes(body));
    await vi.waitFor(() => expect(bodies(second.shown)).toEqual(expect.arrayContaining(missing)), 10_000);
    const duplicates = bodies(second.shown).filter((body) => bodies(first.shown).includes(body)).length;
    console.info(
      `made to abort: shown 10 of 40, then ${second.shown.length} after the next login (${duplicates} duplicates)`,
    );
    expect(bodies(second.shown)).toEqual(sent.slice(sent.length - second.shown.length));
    expect(duplicates).toBeLessThanOrEqual(10);
  });

  it('the emulator is strict: unpaced, unpadded frames arrive merged and it aborts', async () => {
    const node = await start({ V1_PACE_MS: '0' });
    const [alice, bob] = await users(node, 'merge', 2);
    // A newline-framing client is not recognised as the ancestor's, so its frames are not padded.
    const client = await LegacyClient.open(node.chatPort, '127.0.0.1', { readDelayMs: 5, terminator: '\n' });
    expect((await client.login(bob!.id, PASSWORD)).errno).toBe(0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => send(node, alice!, bob!, `m${i}`)));
    expect(await client.waitEnd()).toMatchObject({
      kind: 'abort',
      reason: expect.stringMatching(/not exactly one JSON document|a read of \d+ bytes/),
    });
  });

  it('NUL-padded frames stay one per read even when they arrive together (no pacing)', async () => {
    const node = await start({ V1_PACE_MS: '0' });
    const [alice, bob] = await users(node, 'pad', 2);
    const client = await loggedIn(node, bob!, 5);
    await Promise.all(Array.from({ length: 20 }, (_, i) => send(node, alice!, bob!, `m${i}`)));
    await client.waitShown(20);
    expect(client.alive).toBe(true);
    expect(client.reads).toBeGreaterThanOrEqual(21);
  });
});
