import { describe, expect, inject, it } from 'vitest';
import type { ChatMessage } from '../../src/client/parley-client.js';
import { collect, once } from '../helpers/events.js';
import { LineClient } from '../helpers/line-client.js';
import { createDatabase } from '../../scripts/lib/mariadb.js';
import { loggedInClient, testClient, useNodeOnPrivateMariaDb } from '../helpers/outage-node.js';
import { runServerToExit } from '../helpers/server-process.js';
import { startTestApp } from '../helpers/test-app.js';

const client = (port: number) => testClient(port);
const user = (port: number, name: string) => loggedInClient(port, name);

describe('a node on MySQL', () => {
  it('loses nothing across a node restart: users, friends, groups, acked and undelivered messages', async () => {
    const url = await createDatabase(inject('mariadbUrl'));
    const env = { MYSQL_URL: url, MIGRATE: 'auto', SESSION_SECRET: 'restart-secret-0123456789' };
    const first = await startTestApp(env);
    const alice = await user(first.chatPort, 'alice');
    const bob = await user(first.chatPort, 'bob');
    const bobId = bob.user!.id;
    await alice.addFriend(bobId);
    const groupid = await alice.createGroup('team', 'the team');
    await bob.joinGroup(groupid);
    const delivered = collect<ChatMessage>(bob, 'message', 2);
    await alice.sendTo(bobId, 'seen before restart');
    await alice.sendToGroup(groupid, 'group, seen before restart');
    await delivered;
    await bob.logout(); // flushes bob's acks
    await alice.sendTo(bobId, 'sent while bob was away');
    alice.close();
    bob.close();
    await first.stop();

    const second = await startTestApp(env);
    try {
      const back = client(second.chatPort);
      await back.connect();
      const pending = once<[ChatMessage]>(back, 'message');
      await back.login({ name: 'bob' }, 'pw');
      expect((await pending)[0]).toMatchObject({ msg: 'sent while bob was away', seq: 3 });
      expect(await back.friends()).toMatchObject([
        { id: alice.user!.id, name: 'alice', online: false, state: 'offline' },
      ]);
      expect((await back.groups()).map((g) => [g.id, g.groupname, g.users.map((u) => u.role)])).toEqual([
        [groupid, 'team', ['creator', 'normal']],
      ]);
      const history = await back.history({ with: alice.user!.id });
      expect(history.messages.map((m) => m.msg)).toEqual(['sent while bob was away', 'seen before restart']);
      back.close();
    } finally {
      await second.stop();
    }
  });

  it('stores a lone surrogate (a JSON escape UTF-8 cannot hold) as U+FFFD, the same live and from history', async () => {
    const app = await startTestApp({
      MYSQL_URL: await createDatabase(inject('mariadbUrl')),
      MIGRATE: 'auto',
    });
    try {
      const alice = await user(app.chatPort, 'alice');
      const bob = await user(app.chatPort, 'bob');
      const live = once<[ChatMessage]>(bob, 'message');
      await alice.sendTo(bob.user!.id, 'broken \ud800 half', 'cmid-\udc00');
      await alice.sendTo(bob.user!.id, 'whole 😀');
      expect((await live)[0].msg).toBe('broken \ufffd half');
      const history = await bob.history({ with: alice.user!.id });
      expect(history.messages.map((m) => m.msg)).toEqual(['whole 😀', 'broken \ufffd half']);
      alice.close();
      bob.close();
    } finally {
      await app.stop();
    }
  });

  it('refuses to start on an unmigrated database unless MIGRATE=auto, and names MYSQL_URL when unreachable', async () => {
    const url = await createDatabase(inject('mariadbUrl'));
    await expect(startTestApp({ MYSQL_URL: url })).rejects.toThrow(
      /MYSQL_URL: the database needs \d+ migrations?.*npm run migrate/,
    );
    const { code, output } = await runServerToExit({
      MYSQL_URL: 'mysql://root:secret@127.0.0.1:1/parley',
      MYSQL_CONNECT_TIMEOUT_MS: '500',
    });
    expect(code).toBe(1);
    expect(output).toMatch(
      /MYSQL_URL: cannot use the database at mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/parley \(ECONNREFUSED\)/,
    );
    expect(output).not.toMatch(/secret/);
  });
});

describe('MariaDB lost while running', () => {
  const node = useNodeOnPrivateMariaDb();

  it('answers UNAVAILABLE, keeps connections up, recovers by itself, and delivers every acked message once', async () => {
    const alice = await user(node.app.chatPort, 'alice');
    const bob = await user(node.app.chatPort, 'bob');
    const legacy = await LineClient.open(node.app.chatPort);
    const received: string[] = [];
    bob.on('message', (m) => received.push(m.msg));
    const acked: string[] = [];
    const send = async (text: string): Promise<string> => {
      try {
        await alice.sendTo(bob.user!.id, text);
        acked.push(text);
        return 'ok';
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    for (let i = 0; i < 20; i++) expect(await send(`before ${i}`)).toBe('ok');

    await node.mariadb.stop();
    expect(await send('during outage')).toBe('UNAVAILABLE');
    legacy.sendNul({ msgid: 4, name: 'nobody', password: 'pw' });
    expect(await legacy.nextOf(5)).toMatchObject({ errno: 1, code: 'UNAVAILABLE' });
    expect(alice.connected && bob.connected).toBe(true);

    await node.mariadb.resume();
    // The pool replaces its broken connections; sends succeed again without a restart.
    let result = 'UNAVAILABLE';
    for (let attempt = 0; attempt < 20 && result !== 'ok'; attempt++) result = await send(`after ${attempt}`);
    expect(result).toBe('ok');
    for (let i = 0; i < 20; i++) expect(await send(`later ${i}`)).toBe('ok');
    const metrics = await (await fetch(`http://127.0.0.1:${node.app.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/parley_store_pool_max_connections 10/);
    expect(metrics).toMatch(/parley_messages_total\{outcome="stored"\} \d+/);

    while (received.length < acked.length) await once(bob, 'message', 10_000);
    expect(received).toEqual(acked);
    expect(bob.duplicatesDropped).toBe(0);
    alice.close();
    bob.close();
    legacy.close();
  });
});
