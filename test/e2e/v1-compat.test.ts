import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { LineClient } from '../helpers/line-client.js';
import { startTestApp } from '../helpers/test-app.js';

// Talks exactly like the ancestor ChatClient: every request is JSON + "\0", msgids 1–10, the client's
// own id and name repeated in requests, and the ACK shapes it parses (friends/groups/offlinemsg as arrays
// of JSON strings). Nothing here uses a v2 field.

let app: RunningApp;
beforeAll(async () => (app = await startTestApp()));
afterAll(() => app.stop());

async function register(client: LineClient, name: string): Promise<number> {
  client.sendNul({ msgid: 4, name, password: '123456' });
  const ack = await client.nextOf(5);
  expect(ack).toMatchObject({ msgid: 5, errno: 0 });
  return ack.id as number;
}

async function login(client: LineClient, id: number): Promise<Record<string, unknown>> {
  client.sendNul({ msgid: 1, id, password: '123456' });
  return client.nextOf(2);
}

describe('v1 compatibility (ancestor C++ client)', () => {
  it('registers, logs in, chats live and delivers offline messages in offlinemsg', async () => {
    const zhang = await LineClient.open(app.chatPort);
    const li = await LineClient.open(app.chatPort);
    const zhangId = await register(zhang, 'zhang san');
    const liId = await register(li, 'li si');

    expect(await login(zhang, zhangId)).toEqual({ errno: 0, id: zhangId, msgid: 2, name: 'zhang san' });
    zhang.sendNul({
      msgid: 6,
      id: zhangId,
      name: 'zhang san',
      toid: liId,
      msg: 'offline hello',
      time: '2026-01-01 10:00:00',
    });

    const ack = await login(li, liId);
    expect(ack).toMatchObject({ errno: 0, id: liId, name: 'li si' });
    const offline = (ack.offlinemsg as string[]).map((s) => JSON.parse(s) as Record<string, unknown>);
    expect(offline).toEqual([
      {
        id: zhangId,
        msg: 'offline hello',
        msgid: 6,
        name: 'zhang san',
        time: '2026-01-01 10:00:00',
        toid: liId,
      },
    ]);

    zhang.sendNul({
      msgid: 6,
      id: zhangId,
      name: 'zhang san',
      toid: liId,
      msg: 'live hello',
      time: '2026-01-01 10:00:01',
    });
    expect(await li.nextOf(6)).toEqual({
      id: zhangId,
      msg: 'live hello',
      msgid: 6,
      name: 'zhang san',
      time: '2026-01-01 10:00:01',
      toid: liId,
    });

    // Delivered offline messages are not delivered twice.
    li.sendNul({ msgid: 3, id: liId });
    const again = await login(li, liId);
    expect(again.offlinemsg).toBeUndefined();
    zhang.close();
    li.close();
  });

  it('shows friends and groups as JSON strings in the login ack, with roles and online state', async () => {
    const a = await LineClient.open(app.chatPort);
    const b = await LineClient.open(app.chatPort);
    const aId = await register(a, 'wang wu');
    const bId = await register(b, 'zhao liu');
    await login(a, aId);
    await login(b, bId);
    a.sendNul({ msgid: 7, id: aId, friendid: bId });
    a.sendNul({ msgid: 8, id: aId, groupname: 'c++ chat', groupdesc: 'course group' });
    // v1 gets no replies to these (the ancestor sends none); requests run in order, so the re-login sees them.
    a.sendNul({ msgid: 3, id: aId });
    const relogin = await login(a, aId);
    expect(relogin.friends).toEqual([JSON.stringify({ id: bId, name: 'zhao liu', state: 'online' })]);
    const [group] = (relogin.groups as string[]).map((g) => JSON.parse(g) as Record<string, unknown>);
    expect(group).toMatchObject({ groupname: 'c++ chat', groupdesc: 'course group', id: expect.any(Number) });
    expect((group!.users as string[]).map((u) => JSON.parse(u) as unknown)).toEqual([
      { id: aId, name: 'wang wu', role: 'creator', state: 'online' },
    ]);

    // Friendship is mutual: b sees a without adding.
    b.sendNul({ msgid: 9, id: bId, groupid: group!.id });
    b.sendNul({ msgid: 10, id: bId, name: 'zhao liu', groupid: group!.id, msg: 'hi group', time: 't' });
    expect(await a.nextOf(10)).toEqual({
      groupid: group!.id,
      id: bId,
      msg: 'hi group',
      msgid: 10,
      name: 'zhao liu',
      time: 't',
    });
    b.sendNul({ msgid: 3, id: bId });
    expect((await login(b, bId)).friends).toEqual([
      JSON.stringify({ id: aId, name: 'wang wu', state: 'online' }),
    ]);
    a.close();
    b.close();
  });

  it('processes two requests that arrive in one read (the ancestor dropped the second)', async () => {
    const client = await LineClient.open(app.chatPort);
    client.write(
      '{"msgid":4,"name":"coalesced-1","password":"p"}\0{"msgid":4,"name":"coalesced-2","password":"p"}\0',
    );
    const first = await client.nextOf(5);
    const second = await client.nextOf(5);
    expect([first.errno, second.errno]).toEqual([0, 0]);
    expect(second.id).toBe((first.id as number) + 1);
    client.close();
  });

  it('reassembles a request split across reads (the ancestor aborted)', async () => {
    const client = await LineClient.open(app.chatPort);
    const bytes = Buffer.from('{"msgid":4,"name":"split-request","password":"p"}\0');
    const replied = client.nextOf(5);
    for (const part of [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)]) {
      client.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await replied).toMatchObject({ errno: 0 });
    client.close();
  });

  it('refuses a duplicate name with errno 1 (the ancestor said errno 0, id -1)', async () => {
    const client = await LineClient.open(app.chatPort);
    await register(client, 'dup name');
    client.sendNul({ msgid: 4, name: 'dup name', password: 'x' });
    expect(await client.nextOf(5)).toMatchObject({ errno: 1, code: 'USER_EXISTS' });
    client.close();
  });

  it('answers garbage with an error and keeps the connection and the server alive', async () => {
    const client = await LineClient.open(app.chatPort);
    client.write('hello world\0');
    expect(await client.nextOf(11)).toMatchObject({ code: 'BAD_MESSAGE' });
    client.write('{"id":1}\0');
    expect(await client.nextOf(11)).toMatchObject({ code: 'BAD_MESSAGE' });
    const id = await register(client, 'survivor');
    expect(await login(client, id)).toMatchObject({ errno: 0 });
    client.close();
  });

  it('takes over an account still logged in elsewhere instead of refusing it (no stale lockout)', async () => {
    const first = await LineClient.open(app.chatPort);
    const id = await register(first, 'twice');
    await login(first, id);
    const second = await LineClient.open(app.chatPort);
    expect(await login(second, id)).toMatchObject({ errno: 0, id });
    await first.waitClosed();
    expect(first.frames).toEqual([]);
    second.close();
  });

  it('lets a user log in again right after the old connection died without logout', async () => {
    const first = await LineClient.open(app.chatPort);
    const id = await register(first, 'crashed client');
    await login(first, id);
    first.socket.resetAndDestroy();
    const second = await LineClient.open(app.chatPort);
    expect(await login(second, id)).toMatchObject({ errno: 0 });
    second.close();
  });
});
