import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient } from '../../src/client/parley-client.js';
import { FUZZ_NAMES, fuzzItems, summarise } from '../helpers/fuzz-frames.js';
import { LineClient, type Frame } from '../helpers/line-client.js';
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

  it('never throttles a client that acks each message of a large backlog replay', async () => {
    const node = await app({ RATE_PER_S: '20', RATE_BURST: '40' });
    const sender = await node.services.auth.register('backlog-sender', 'pw', '127.0.0.1');
    const { client, id } = await loggedIn(node.chatPort, 'backlog-reader');
    client.sendLine({ msgid: 3 });
    await client.nextOf(12);
    for (let i = 0; i < 500; i++) {
      await node.services.messages.send({ senderId: sender.id, target: { kind: 'user', id }, body: `b${i}` });
    }
    // Ack every delivery as it arrives, one INBOX_ACK per message, as PROTOCOL.md invites.
    client.sendLine({ msgid: 1, v: 2, id, password: 'pw' });
    expect(await client.nextOf(2)).toMatchObject({ errno: 0, lastSeq: 500 });
    for (let seq = 1; seq <= 500; seq++) {
      const delivery = await client.next((f) => f.seq === seq);
      expect(delivery.msg).toBe(`b${seq - 1}`);
      client.sendLine({ msgid: 15, seq });
    }
    client.sendLine({ msgid: 18, reqId: 'still-here' });
    expect(await client.next((f) => f.reqId === 'still-here')).toMatchObject({ msgid: 19 });
    expect(client.frames.filter((f) => f.msgid === 11)).toEqual([]);
    expect(client.closed).toBe(false);
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

  it('closes an unauthenticated connection at its login deadline even while it keeps pinging', async () => {
    const { chatPort } = await app({ UNAUTH_TIMEOUT_MS: '400' });
    const client = await LineClient.open(chatPort);
    const opened = Date.now();
    const pinger = setInterval(() => client.sendLine({ msgid: 18 }), 50);
    try {
      expect(await client.next((f) => f.code === 'IDLE_TIMEOUT', 3000)).toMatchObject({ msgid: 11 });
      await client.waitClosed();
    } finally {
      clearInterval(pinger);
    }
    expect(Date.now() - opened).toBeLessThan(1500);
    expect(client.frames.filter((f) => f.msgid === 19).length).toBeGreaterThan(2);
  });

  it('answers text that merely starts with a capital letter as a bad frame, not as HTTP', async () => {
    const { chatPort } = await app();
    const client = await LineClient.open(chatPort);
    client.write('HELLO there, not JSON\n');
    expect(await client.nextOf(11, 2000)).toMatchObject({ code: 'BAD_MESSAGE' });
    client.sendLine({ msgid: 18, reqId: 'after' });
    expect(await client.next((f) => f.reqId === 'after')).toMatchObject({ msgid: 19 });
    client.close();
  });

  it('releases chat-port sockets answered over HTTP within seconds, so held ones never exhaust MAX_CONNECTIONS', async () => {
    const node = await app({ MAX_CONNECTIONS: '10' });
    const held = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<Socket>((resolve) => {
            // Asks for a page, reads the answer, and never closes its side.
            const socket = connect({ port: node.chatPort, host: '127.0.0.1', allowHalfOpen: true });
            socket.on('data', () => resolve(socket));
            socket.on('error', () => {});
            socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          }),
      ),
    );
    expect(node.chatServer.stats().sockets).toBe(10);
    const started = Date.now();
    await vi.waitFor(() => expect(node.chatServer.stats().sockets).toBe(0), { timeout: 5000, interval: 50 });
    expect(Date.now() - started).toBeLessThan(4000);
    const client = await LineClient.open(node.chatPort);
    client.sendLine({ msgid: 18, reqId: 'room' });
    expect(await client.next((f) => f.reqId === 'room')).toMatchObject({ msgid: 19 });
    client.close();
    for (const socket of held) socket.destroy();
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
    const cursor = await node.services.messages.cursor(slow.id, 'default');
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

  it('answers every malformed frame of a storm with its documented error, never INTERNAL, while a control pair keeps chatting', async () => {
    const { chatPort } = await app({
      RATE_PER_S: '100000',
      RATE_BURST: '100000',
      LOGIN_RATE_PER_S: '100000',
      LOGIN_BURST: '100000',
    });
    // Taken before the storm, so no fuzz frame can register (and then log in) a name of its value pool.
    const registrar = await LineClient.open(chatPort);
    for (const name of FUZZ_NAMES) {
      registrar.sendLine({ msgid: 4, name, password: 'not in the fuzz values' });
      expect(await registrar.nextOf(5)).toMatchObject({ errno: 0 });
    }
    registrar.close();

    // The control pair: a message from alice reaches bob before, during and after the storm.
    const alice = await loggedIn(chatPort, 'control-alice');
    const bob = await loggedIn(chatPort, 'control-bob');
    let sent = 0;
    const exchange = async (phase: string): Promise<void> => {
      const reqId = ++sent;
      const text = `${phase} ${reqId}`;
      alice.client.sendLine({ msgid: 6, toid: bob.id, msg: text, reqId });
      expect(await alice.client.next((f) => f.msgid === 12 && f.reqId === reqId)).toMatchObject({ re: 6 });
      const got = await bob.client.next((f) => f.msgid === 6 && f.msg === text);
      expect(got).toMatchObject({ id: alice.id, toid: bob.id });
      bob.client.sendLine({ msgid: 15, seq: got.seq });
    };
    await exchange('before');

    let storming = true;
    let exchangedDuring = 0;
    let firstDuring!: () => void;
    let controlFailed!: (error: unknown) => void;
    const halfway = new Promise<void>((resolve, reject) => {
      firstDuring = resolve;
      controlFailed = reject;
    });
    const control = (async () => {
      while (storming) {
        await exchange('during');
        exchangedDuring++;
        firstDuring();
      }
    })();
    // A control failure stops the fuzzers waiting at halfway, so the test fails at once with its error.
    control.catch(controlFailed);

    // 8 connections × 200 items, sent 25 at a time in one write, each item followed by a PING marker: the
    // replies before a marker's PONG are the item's (one connection's frames are answered in order).
    const mismatches: string[] = [];
    const replies: Frame[] = [];
    const fuzzer = async (c: number): Promise<void> => {
      const next = fuzzItems(42 + c);
      const client = await LineClient.open(chatPort);
      // A first frame that is plainly JSON, so the port's sniffing never takes random bytes for HTTP.
      client.sendLine({ msgid: 18, reqId: 'hello' });
      await client.next((f) => f.msgid === 19 && f.reqId === 'hello');
      for (let batch = 0; batch < 8; batch++) {
        // Halfway through, every fuzzer waits until a control message got through since the storm began.
        if (batch === 4) await halfway;
        const items = Array.from({ length: 25 }, next);
        const marker = (i: number) => `${c}.${batch}.${i}`;
        client.write(
          Buffer.concat(
            items.flatMap((item, i) => [
              item.bytes,
              Buffer.from(`\n${JSON.stringify({ msgid: 18, reqId: marker(i) })}\n`),
            ]),
          ),
        );
        await client.next((f) => f.msgid === 19 && f.reqId === marker(items.length - 1));
        // The last marker's PONG was taken by next(); the others split the replies item by item.
        const frames = client.frames.splice(0);
        let at = 0;
        items.forEach((item, i) => {
          const got: Frame[] = [];
          while (at < frames.length && frames[at]!.reqId !== marker(i)) got.push(frames[at++]!);
          at++;
          replies.push(...got);
          const summaries = got.map(summarise);
          if (summaries.length !== item.replies || summaries.some((s) => !item.allowed.includes(s))) {
            mismatches.push(
              `${item.label.slice(0, 80)} → ${JSON.stringify(summaries)}; want ${item.replies} × ${item.allowed.join(' | ')}`,
            );
          }
        });
      }
      expect(client.closed).toBe(false);
      client.close();
    };
    try {
      await Promise.all(Array.from({ length: 8 }, (_, c) => fuzzer(c)));
    } finally {
      storming = false;
    }
    await control;

    expect(replies.filter((r) => r.code === 'INTERNAL' || r.errno === 99)).toEqual([]);
    expect(mismatches).toEqual([]);
    // The storm reached every kind of answer a connection that is not logged in can get.
    const kinds = new Set(replies.map(summarise));
    for (const kind of [
      'ERROR BAD_MESSAGE',
      'ERROR BAD_MESSAGE re=18',
      'ERROR UNKNOWN_MSGID re=99',
      'ERROR NOT_LOGGED_IN re=6',
      'PONG',
      'LOGIN_ACK BAD_MESSAGE',
      'LOGIN_ACK AUTH_BAD_CREDENTIALS',
      'REG_ACK BAD_MESSAGE',
      'REG_ACK USER_EXISTS',
      'RESUME_ACK BAD_MESSAGE',
      'RESUME_ACK TOKEN_INVALID',
    ])
      expect(kinds, kind).toContain(kind);
    expect(exchangedDuring).toBeGreaterThan(0);
    await exchange('after');

    // A new client still registers, logs in and pings.
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
