import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { startTestApp } from '../helpers/test-app.js';

let app: RunningApp;
let base: string;
beforeAll(async () => {
  app = await startTestApp({ KV_ARRAY_CAPACITY: '3', KV_MAX_VALUE_BYTES: '64' });
  base = `http://127.0.0.1:${app.adminPort}`;
});
afterAll(() => app.stop());

const kv = async (body: unknown, path = '/api/kv', headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
};

/** Sends raw bytes on one connection and collects the reply until `count` HTTP responses arrived. */
function raw(port: number, bytes: string, count: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if ((text.match(/HTTP\/1\.1 /g) ?? []).length >= count && /\}$/.test(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

describe('KV HTTP API (original shapes)', () => {
  it('answers commands with {status,message,data} where data is the whole stats document', async () => {
    const set = await kv({ cmd: 'SET', key: 'name', value: 'alice' });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      status: 'OK',
      message: 'Set successfully',
      data: {
        status: 'OK',
        data: {
          array: { count: 1, max: 3, remaining: 2 },
          hash: { count: 0, max: 131072, remaining: 131072 },
          rbtree: { count: 0, max: 524288, remaining: 524288 },
        },
      },
    });
    expect(set.headers.get('access-control-allow-origin')).toBeNull();
    expect((await kv({ cmd: 'GET', key: 'name' })).body).toMatchObject({ status: 'OK', message: 'alice' });
    expect((await kv({ cmd: 'EXIST', key: 'name' })).body).toMatchObject({
      status: 'EXIST',
      message: 'Key exists',
    });
    expect((await kv({ cmd: 'GET', key: 'nope' })).body).toMatchObject({
      status: 'NO_EXIST',
      message: 'Key not found',
    });
    // The original page calls /kv/api/...; numbers are accepted as strings as the original did.
    expect((await kv({ cmd: 'SET', key: 'num', value: 123 }, '/kv/api/kv')).body).toMatchObject({
      status: 'OK',
    });
    expect((await kv({ cmd: 'GET', key: 'num' })).body).toMatchObject({ message: '123' });
    await kv({ cmd: 'SET', key: 'third', value: 'x' });
    expect((await kv({ cmd: 'SET', key: 'fourth', value: 'x' })).body).toMatchObject({
      status: 'FULL',
      message: 'Array storage full',
    });
    const stats = await fetch(`${base}/kv/api/stats`);
    expect(((await stats.json()) as { data: { array: unknown } }).data.array).toEqual({
      count: 3,
      max: 3,
      remaining: 0,
    });
  });

  it('escapes values correctly in JSON (the original emitted invalid JSON for quotes and backslashes)', async () => {
    const value = 'a"b\\c\n</script>';
    await kv({ cmd: 'HSET', key: 'tricky', value });
    expect((await kv({ cmd: 'HGET', key: 'tricky' })).body.message).toBe(value);
  });

  it('answers every malformed request with a 4xx JSON error instead of dropping the connection', async () => {
    for (const [body, status, message] of [
      ['{not json', 400, /Invalid JSON/],
      ['[1,2]', 400, /JSON object/],
      ['{}', 400, /cmd must be a string/],
      [{ cmd: 'SET', key: { a: 1 } }, 400, /key must be a string/],
      [{ cmd: 'set', key: 'a', value: 'b' }, 400, /Unknown command/],
      [{ cmd: 'SET', value: 'b' }, 400, /Key required/],
      [{ cmd: 'SET', key: 'a' }, 400, /Value required/],
      [{ cmd: 'HSET', key: 'a', value: 'x'.repeat(65) }, 400, /Value too long/],
      [JSON.stringify({ cmd: 'SET', key: 'a', value: 'x'.repeat(10_000) }), 413, /too large/],
    ] as const) {
      const reply = await kv(body);
      expect(reply.status).toBe(status);
      expect(reply.body.status).toBe('ERROR');
      expect(String(reply.body.message)).toMatch(message);
    }
    const missing = await fetch(`${base}/api/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      message: expect.stringContaining('Supported endpoints: POST /api/kv, GET /api/stats'),
    });
  });

  it('grants no CORS by default, keeps connections alive and answers pipelined requests', async () => {
    const preflight = await fetch(`${base}/api/kv`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const body = JSON.stringify({ cmd: 'RSET', key: 'p', value: '1' });
    const request = (b: string) =>
      `POST /api/kv HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
    const get = JSON.stringify({ cmd: 'RGET', key: 'p' });
    const text = await raw(
      app.adminPort,
      request(body) + request(get) + `GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n`,
      3,
    );
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(text).toContain('"message":"Set successfully"');
    expect(text).toContain('"message":"1"');
    expect(text).toMatch(/Connection: keep-alive/i);
  });

  it('adds ordered range and prefix scans and a paged key listing for the tree', async () => {
    for (const key of ['k:3', 'k:1', 'k:2', 'other']) await kv({ cmd: 'RSET', key, value: key });
    expect((await kv({ cmd: 'RRANGE', key: 'k:1', value: 'k:2' })).body.result).toEqual([
      { key: 'k:1', value: 'k:1' },
      { key: 'k:2', value: 'k:2' },
    ]);
    expect((await kv({ cmd: 'RPREFIX', key: 'k:', value: '2' })).body).toMatchObject({
      message: '2 keys',
      result: [{ key: 'k:1' }, { key: 'k:2' }],
    });
    const page = await (await fetch(`${base}/api/kv/rbtree/keys?prefix=k:&limit=2`)).json();
    expect(page).toMatchObject({
      status: 'OK',
      data: { entries: [{ key: 'k:1' }, { key: 'k:2' }], next: 'k:2' },
    });
    const next = await (await fetch(`${base}/api/kv/rbtree/keys?prefix=k:&limit=2&after=k:2`)).json();
    expect(next).toMatchObject({ data: { entries: [{ key: 'k:3' }], next: null } });
  });

  it("serves health, readiness, metrics and this node's cluster view", async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const cluster = (await (await fetch(`${base}/api/cluster`)).json()) as {
      data: { node: Record<string, unknown>; nodes: unknown[] };
    };
    expect(cluster.data.node).toMatchObject({
      nodeId: expect.any(String),
      mode: 'single node, data kept in memory',
      connections: { tcp: expect.any(Number), ws: 0 },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/parley_kv_ops_total\{outcome="ok"\} \d+/);
    expect(metrics).toMatch(/parley_kv_entries\{engine="rbtree"\} \d+/);
    expect(metrics).toMatch(/parley_bus_subscriptions 0/);
    expect(metrics).toMatch(/parley_connections\{transport="tcp"\} \d+/);
  });
});

describe('KV admin plane options', () => {
  it('requires the bearer token on /api/* when ADMIN_TOKEN is set (health stays open)', async () => {
    const guarded = await startTestApp({ ADMIN_TOKEN: 'let-me-in-please' });
    const url = `http://127.0.0.1:${guarded.adminPort}`;
    try {
      expect((await fetch(`${url}/api/stats`)).status).toBe(401);
      expect(
        (await fetch(`${url}/api/stats`, { headers: { Authorization: 'Bearer wrong-token' } })).status,
      ).toBe(401);
      expect(
        (await fetch(`${url}/api/stats`, { headers: { Authorization: 'Bearer let-me-in-please' } })).status,
      ).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/kv/`)).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  });

  it('keeps KV data across a restart with KV_DATA_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-kv-'));
    const first = await startTestApp({ KV_DATA_DIR: dir, KV_FSYNC: 'always' });
    const post = (port: number, body: unknown) =>
      fetch(`http://127.0.0.1:${port}/api/kv`, { method: 'POST', body: JSON.stringify(body) }).then(
        (r) => r.json() as Promise<Record<string, unknown>>,
      );
    await post(first.adminPort, { cmd: 'SET', key: 'a', value: '1' });
    await post(first.adminPort, { cmd: 'HSET', key: 'b', value: '2' });
    await post(first.adminPort, { cmd: 'RSET', key: 'c', value: '3' });
    await post(first.adminPort, { cmd: 'HMOD', key: 'b', value: '22' });
    await post(first.adminPort, { cmd: 'DEL', key: 'a' });
    await first.stop();
    const second = await startTestApp({ KV_DATA_DIR: dir });
    try {
      expect(await post(second.adminPort, { cmd: 'GET', key: 'a' })).toMatchObject({ status: 'NO_EXIST' });
      expect(await post(second.adminPort, { cmd: 'HGET', key: 'b' })).toMatchObject({ message: '22' });
      expect(await post(second.adminPort, { cmd: 'RGET', key: 'c' })).toMatchObject({ message: '3' });
    } finally {
      await second.stop();
    }
  });
});
