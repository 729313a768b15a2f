import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient } from '../../src/client/parley-client.js';
import { LineClient } from '../helpers/line-client.js';
import { startTestApp } from '../helpers/test-app.js';

const apps: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()));
});
async function app(env: Record<string, string> = {}): Promise<RunningApp> {
  const started = await startTestApp(env);
  apps.push(started);
  return started;
}

async function loggedIn(
  port: number,
  name: string,
  v: 1 | 2 = 2,
): Promise<{ client: LineClient; id: number }> {
  const client = await LineClient.open(port);
  client.sendLine({ msgid: 4, name, password: 'pw' });
  const { id } = await client.nextOf(5);
  client.sendLine({ msgid: 1, v, id, password: 'pw' });
  expect(await client.nextOf(2)).toMatchObject({ errno: 0 });
  return { client, id: id as number };
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('limits and bad input', () => {
  it('answers an oversize TCP frame with PAYLOAD_TOO_LARGE, then closes', async () => {
    const { chatPort } = await app({ MAX_FRAME_BYTES: '2048' });
    const client = await LineClient.open(chatPort);
    client.write(`{"msgid":4,"name":"${'x'.repeat(5000)}`);
    expect(await client.nextOf(11)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', errno: 12 });
    await client.waitClosed();
  });

  it('closes a WebSocket that sends an oversize message (close code 1009)', async () => {
    const { chatPort } = await app({ MAX_FRAME_BYTES: '2048' });
    const ws = new WebSocket(`ws://127.0.0.1:${chatPort}/ws`);
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(5000));
    expect(await closed).toBe(1009);
  });

  it('rejects requests over the rate limit with RATE_LIMITED and closes a sustained flood', async () => {
    const { chatPort } = await app({ RATE_PER_S: '1', RATE_BURST: '5' });
    const client = await LineClient.open(chatPort);
    client.write('{"msgid":18,"reqId":1}\n'.repeat(5) + '{"msgid":18,"reqId":99}\n');
    expect(await client.next((f) => f.reqId === 99)).toMatchObject({
      msgid: 11,
      code: 'RATE_LIMITED',
      reqId: 99,
    });
    client.write('{"msgid":18}\n'.repeat(50));
    expect(await client.next((f) => f.code === 'FLOODING')).toMatchObject({ msgid: 11, errno: 46 });
    await client.waitClosed();
  });

  it('limits login attempts per connection', async () => {
    const { chatPort } = await app({ LOGIN_BURST: '2', LOGIN_RATE_PER_S: '0.01' });
    const client = await LineClient.open(chatPort);
    for (let i = 0; i < 3; i++) client.sendNul({ msgid: 1, id: 1, password: 'guess' });
    const replies = [await client.nextOf(2), await client.nextOf(2), await client.nextOf(2)];
    expect(replies.map((r) => r.code)).toEqual([
      'AUTH_BAD_CREDENTIALS',
      'AUTH_BAD_CREDENTIALS',
      'RATE_LIMITED',
    ]);
    client.close();
  });

  it('refuses connections over MAX_CONNECTIONS with SERVER_BUSY and serves again when one leaves', async () => {
    const { chatPort } = await app({ MAX_CONNECTIONS: '2' });
    const first = await LineClient.open(chatPort);
    const second = await LineClient.open(chatPort);
    const third = await LineClient.open(chatPort);
    expect(await third.nextOf(11)).toMatchObject({ code: 'SERVER_BUSY' });
    await third.waitClosed();
    first.close();
    await first.waitClosed();
    second.sendLine({ msgid: 18, reqId: 'still-served' });
    expect(await second.nextOf(19)).toMatchObject({ reqId: 'still-served' });
    const fourth = await LineClient.open(chatPort);
    fourth.sendLine({ msgid: 18 });
    expect(await fourth.nextOf(19)).toBeDefined();
    second.close();
    fourth.close();
  });

  it('closes a silent v2 connection after the heartbeat timeout but keeps a pinging one', async () => {
    const { chatPort } = await app({ HEARTBEAT_TIMEOUT_MS: '300' });
    const silent = await loggedIn(chatPort, 'silent');
    const client = new ParleyClient({
      host: '127.0.0.1',
      port: chatPort,
      transport: 'tcp',
      heartbeatMs: 100,
      reconnect: false,
    });
    await client.connect();
    await client.register('pinger', 'pw');
    await client.login({ name: 'pinger' }, 'pw');
    expect(await silent.client.nextOf(11, 3000)).toMatchObject({ code: 'IDLE_TIMEOUT' });
    await silent.client.waitClosed();
    expect(client.connected).toBe(true);
    await client.ping();
    client.close();
  });

  it('closes an unauthenticated connection that stays silent', async () => {
    const { chatPort } = await app({ UNAUTH_TIMEOUT_MS: '200' });
    const client = await LineClient.open(chatPort);
    client.sendLine({ msgid: 18 });
    expect(await client.nextOf(19)).toBeDefined();
    expect(await client.nextOf(11, 3000)).toMatchObject({ code: 'IDLE_TIMEOUT' });
    await client.waitClosed();
  });

  it('cuts a client that stops reading with SLOW_CONSUMER, without hurting others', async () => {
    const node = await app({
      OUTBOUND_HIGH_WATER_BYTES: '65536',
      OUTBOUND_MAX_BYTES: '1048576',
      SLOW_CONSUMER_TIMEOUT_MS: '300',
      RATE_PER_S: '100000',
      RATE_BURST: '100000',
    });
    const reader = await loggedIn(node.chatPort, 'reader');
    const slow = await loggedIn(node.chatPort, 'slow');
    slow.client.socket.pause();
    const sender = await loggedIn(node.chatPort, 'sender');
    const cut = new Promise<void>((resolve) =>
      node.chatServer.on('connection-closed', ({ reason }) => reason === 'SLOW_CONSUMER' && resolve()),
    );
    // Far more than loopback socket buffers hold, so the server's own outbound buffer must grow.
    const body = 'y'.repeat(8000);
    const count = 2500;
    for (let i = 0; i < count; i++) sender.client.sendLine({ msgid: 6, toid: slow.id, msg: body, reqId: i });
    await cut;
    sender.client.sendLine({ msgid: 6, toid: reader.id, msg: 'still working' });
    expect(await reader.client.next((f) => f.msg === 'still working')).toMatchObject({ id: sender.id });
    expect(await sender.client.next((f) => f.reqId === count - 1, 10_000)).toMatchObject({
      msgid: 12,
      mid: expect.any(Number),
    });
    // The cut client reads what reached it before the cut: far fewer messages than were sent. (The error
    // reply queued behind them is best-effort: a client that does not read may never see it.)
    slow.client.socket.resume();
    await slow.client.waitClosed(10_000);
    expect(slow.client.frames.filter((f) => f.msgid === 6).length).toBeLessThan(count / 2);
    expect(slow.client.frames.filter((f) => f.msgid === 11).every((f) => f.code === 'SLOW_CONSUMER')).toBe(
      true,
    );
    // Nothing was lost: the undelivered rest waits in the inbox for the next login.
    const cursor = await node.services.messages.cursor(slow.id);
    expect(cursor.lastSeq).toBe(count);
    reader.client.close();
    sender.client.close();
  });

  it('answers plain HTTP on the chat port with a JSON error instead of hanging', async () => {
    const { chatPort } = await app();
    expect(await httpGet(chatPort, '/')).toMatchObject({ status: 404 });
    const ws = await httpGet(chatPort, '/ws');
    expect(ws.status).toBe(426);
    expect(JSON.parse(ws.body)).toMatchObject({ error: expect.stringContaining('/ws') });
  });

  it('survives random bytes and random JSON and still serves a normal client', async () => {
    const { chatPort } = await app({ RATE_PER_S: '100000', RATE_BURST: '100000' });
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const values = () =>
      pick<unknown>([
        null,
        true,
        -1,
        0,
        1.5,
        2 ** 53,
        'x',
        '',
        [],
        {},
        [1, 'a'],
        { a: { b: [] } },
        'é'.repeat(300),
      ]);
    const fuzzers: Promise<void>[] = [];
    for (let c = 0; c < 8; c++) {
      fuzzers.push(
        (async () => {
          const client = await LineClient.open(chatPort);
          for (let i = 0; i < 200; i++) {
            if (random() < 0.3) {
              client.write(
                Buffer.from(
                  Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
                ),
              );
            } else {
              const frame: Record<string, unknown> = {
                msgid: pick([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 15, 16, 18, 20, 23, 25, 27, 99, -1, '6']),
              };
              for (const key of [
                'id',
                'toid',
                'groupid',
                'friendid',
                'name',
                'password',
                'msg',
                'v',
                'token',
                'seq',
                'after',
                'with',
              ]) {
                if (random() < 0.4) frame[key] = values();
              }
              client.write(JSON.stringify(frame) + pick(['\n', '\0', '']));
            }
          }
          client.close();
        })(),
      );
    }
    await Promise.all(fuzzers);
    const client = new ParleyClient({
      host: '127.0.0.1',
      port: chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await client.connect();
    await client.register('after-the-storm', 'pw');
    await client.login({ name: 'after-the-storm' }, 'pw');
    await client.ping();
    client.close();
  });
});
