import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { AdminServer, sendJson } from '../../../src/admin/admin-server.js';

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** An admin server with one fast route (echoes the body) and one ordinary route. */
async function start(options: { token?: string; keepAliveMs?: number } = {}): Promise<number> {
  server = new AdminServer(createLogger('silent'), { maxBodyBytes: 64, ...options });
  server.fastRoute('POST /api/echo', (body) => ({ status: 200, json: JSON.stringify({ echo: body }) }));
  server.route('GET /slow', (_request, response) => sendJson(response, 200, { slow: true }));
  return server.listen('127.0.0.1', 0);
}

const post = (body: string, headers = '') =>
  `POST /api/echo HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads HTTP replies (Content-Length framed, 1xx skipped) from a socket. */
class ReplyReader {
  private buffer = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((wake) => wake());
    });
  }

  async next(): Promise<Reply> {
    for (;;) {
      const reply = this.take();
      if (reply) return reply;
      if (this.closed) throw new Error(`connection closed; unparsed: ${this.buffer.toString()}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private take(): Reply | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    const status = Number(statusLine!.split(' ')[1]);
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return status < 200 ? this.take() : { status, headers, body };
  }
}

async function open(port: number): Promise<ReplyReader> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new ReplyReader(socket);
}

describe('admin fast lane', () => {
  it('answers a request that arrives one byte at a time', async () => {
    const reader = await open(await start());
    for (const byte of Buffer.from(post('{"a":"ü"}'))) reader.socket.write(Buffer.from([byte]));
    const reply = await reader.next();
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ echo: '{"a":"ü"}' });
    expect(reply.headers['connection']).toBe('keep-alive');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['date']).toMatch(/GMT$/);
    reader.socket.destroy();
  });

  it('answers pipelined requests in order across the hand-off to Node http', async () => {
    const reader = await open(await start());
    reader.socket.write(post('one') + 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' + post('two') + post('three'));
    expect(JSON.parse((await reader.next()).body)).toEqual({ echo: 'one' });
    expect(JSON.parse((await reader.next()).body)).toEqual({ slow: true });
    expect(JSON.parse((await reader.next()).body)).toEqual({ echo: 'two' });
    expect(JSON.parse((await reader.next()).body)).toEqual({ echo: 'three' });
    reader.socket.destroy();
  });

  it('leaves chunked bodies, Expect: 100-continue and query strings to Node http, which serves them', async () => {
    const port = await start();
    const reader = await open(port);
    reader.socket.write(
      'POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    );
    expect(JSON.parse((await reader.next()).body)).toEqual({ echo: 'abcde' });
    const second = await open(port);
    second.socket.write(post('go', 'Expect: 100-continue\r\n'));
    expect(JSON.parse((await second.next()).body)).toEqual({ echo: 'go' });
    const third = await open(port);
    third.socket.write('POST /api/echo?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nq');
    expect(JSON.parse((await third.next()).body)).toEqual({ echo: 'q' });
    for (const r of [reader, second, third]) r.socket.destroy();
  });

  it('answers an oversized body with 413 and malformed heads with 400 (via Node http), never hanging', async () => {
    const port = await start();
    const big = await open(port);
    big.socket.write(post('x'.repeat(65)));
    const tooLarge = await big.next();
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({
      status: 'ERROR',
      message: expect.stringMatching(/too large/),
    });
    for (const bad of [
      'POST /api/echo HTTP/1.1\r\nHost : x\r\nContent-Length: 1\r\n\r\nq',
      'POST /api/echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nqq',
      'POST /api/echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST /api/echo HTTP/1.1\nContent-Length: 1\n\nq',
    ]) {
      const reader = await open(port);
      reader.socket.write(bad);
      const reply = await reader.next().catch(() => ({ status: 0, headers: {}, body: '' }));
      expect.soft(reply.status, JSON.stringify(bad)).toBe(400);
      reader.socket.destroy();
    }
    big.socket.destroy();
  });

  it('closes after the reply when asked to, and keeps HTTP/1.0 alive only on request', async () => {
    const port = await start();
    const closing = await open(port);
    closing.socket.write(post('bye', 'Connection: close\r\n'));
    const reply = await closing.next();
    expect(reply.headers['connection']).toBe('close');
    await once(closing.socket, 'close');
    const old = await open(port);
    old.socket.write('POST /api/echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi');
    expect((await old.next()).headers['connection']).toBe('close');
    await once(old.socket, 'close');
    const oldAlive = await open(port);
    oldAlive.socket.write('POST /api/echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi');
    expect((await oldAlive.next()).headers['connection']).toBe('keep-alive');
    oldAlive.socket.write('POST /api/echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nho');
    expect(JSON.parse((await oldAlive.next()).body)).toEqual({ echo: 'ho' });
    oldAlive.socket.destroy();
  });

  it('asks for the bearer token on /api/* when one is set', async () => {
    const reader = await open(await start({ token: 'secret-token' }));
    reader.socket.write(post('x'));
    expect((await reader.next()).status).toBe(401);
    reader.socket.write(post('y', 'Authorization: Bearer secret-token\r\n'));
    expect(JSON.parse((await reader.next()).body)).toEqual({ echo: 'y' });
    reader.socket.destroy();
  });

  it('remembers parsed heads yet honours each request: its body, token and Connection', async () => {
    const port = await start({ token: 't0ken' });
    const auth = 'Authorization: Bearer t0ken\r\n';
    const reader = await open(port);
    // The same head three times (bodies of one length), then the same with a wrong token, then with close.
    reader.socket.write(post('a', auth) + post('b', auth) + post('c', auth));
    for (const body of ['a', 'b', 'c'])
      expect(JSON.parse((await reader.next()).body)).toEqual({ echo: body });
    reader.socket.write(post('d', 'Authorization: Bearer wrong\r\n'));
    expect((await reader.next()).status).toBe(401);
    const other = await open(port);
    other.socket.write(post('e', auth));
    expect(JSON.parse((await other.next()).body)).toEqual({ echo: 'e' });
    // More distinct heads than the lane remembers: every one still parsed on its own.
    const many = Array.from({ length: 600 }, (_, i) => post(`m${i}`, `${auth}X-Request: ${i}\r\n`));
    other.socket.write(many.join(''));
    for (let i = 0; i < 600; i++) expect(JSON.parse((await other.next()).body)).toEqual({ echo: `m${i}` });
    reader.socket.write(post('f', `${auth}Connection: close\r\n`));
    expect((await reader.next()).headers['connection']).toBe('close');
    await once(reader.socket, 'close');
    other.socket.destroy();
  });

  it('answers every one of 2,000 pipelined requests, and closes idle connections', async () => {
    const reader = await open(await start({ keepAliveMs: 300 }));
    reader.socket.write(Array.from({ length: 2000 }, (_, i) => post(String(i))).join(''));
    for (let i = 0; i < 2000; i++)
      expect(JSON.parse((await reader.next()).body)).toEqual({ echo: String(i) });
    await once(reader.socket, 'close'); // the idle sweep ends it
    expect(reader.closed).toBe(true);
  });
});
