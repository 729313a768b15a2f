import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { makeTestCerts, type TestCerts } from '../../scripts/lib/test-certs.js';
import { startTestApp } from '../helpers/test-app.js';

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP(S) request with exactly these headers (fetch would add or refuse some, Origin among them). */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  tls?: { ca: Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, method, path, headers, agent: false as const, ...tls };
    const request = (tls ? httpsRequest : httpRequest)(options, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

const setCommand = (key: string) => JSON.stringify({ cmd: 'SET', key, value: 'v' });
const json = { 'Content-Type': 'application/json' };

describe('the admin plane and browsers (ADMIN_CORS_ORIGINS)', () => {
  let app: RunningApp;
  beforeAll(async () => (app = await startTestApp({ ADMIN_CORS_ORIGINS: 'https://ops.example.com' })));
  afterAll(() => app?.stop());

  it('refuses a command from any other web page, even a "simple" POST that needs no preflight', async () => {
    const evil = { Origin: 'http://evil.example', 'Content-Type': 'text/plain' };
    const refused = await send(app.adminPort, 'POST', '/api/kv', evil, setCommand('stolen'));
    expect(refused.status).toBe(403);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(refused.body)).toMatchObject({
      message: expect.stringContaining('ADMIN_CORS_ORIGINS'),
    });
    const preflight = await send(app.adminPort, 'OPTIONS', '/api/kv', {
      Origin: 'http://evil.example',
      'Access-Control-Request-Method': 'POST',
    });
    expect(preflight.status).toBe(403);
    // Nothing was written.
    const get = await send(
      app.adminPort,
      'POST',
      '/api/kv',
      json,
      JSON.stringify({ cmd: 'GET', key: 'stolen' }),
    );
    expect(JSON.parse(get.body)).toMatchObject({ status: 'NO_EXIST' });
  });

  it('serves the admin page its own origin and scripts without an Origin, with no CORS headers', async () => {
    const own = await send(
      app.adminPort,
      'POST',
      '/api/kv',
      { ...json, Origin: `http://127.0.0.1:${app.adminPort}` },
      setCommand('own'),
    );
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const script = await send(app.adminPort, 'POST', '/api/kv', json, setCommand('script'));
    expect(script.status).toBe(200);
    expect(script.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('grants a listed origin CORS: preflight and replies name it (never *)', async () => {
    const origin = 'https://ops.example.com';
    const preflight = await send(app.adminPort, 'OPTIONS', '/api/kv', {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': origin,
      'access-control-allow-methods': expect.stringContaining('POST'),
      vary: 'Origin',
    });
    const reply = await send(
      app.adminPort,
      'POST',
      '/api/kv',
      { ...json, Origin: origin },
      setCommand('ops'),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers['access-control-allow-origin']).toBe(origin);
    const stats = await send(app.adminPort, 'GET', '/api/stats', { Origin: origin });
    expect(stats.headers['access-control-allow-origin']).toBe(origin);
  });
});

describe('HTTPS on the admin port (ADMIN_TLS_CERT/KEY)', () => {
  let certs: TestCerts;
  let app: RunningApp;
  beforeAll(async () => {
    certs = await makeTestCerts();
    app = await startTestApp({ ADMIN_TLS_CERT: certs.cert, ADMIN_TLS_KEY: certs.key });
  });
  afterAll(() => app?.stop());

  it('answers the fast lane and the page over HTTPS; plain HTTP gets nothing', async () => {
    const tls = { ca: readFileSync(certs.ca) };
    const health = await send(app.adminPort, 'GET', '/healthz', {}, undefined, tls);
    expect(health).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    const set = await send(app.adminPort, 'POST', '/api/kv', json, setCommand('secure'), tls);
    expect(JSON.parse(set.body)).toMatchObject({ status: 'OK', message: 'Set successfully' });
    // Node's http path (a route the fast lane does not serve) over TLS too.
    const ready = await send(app.adminPort, 'GET', '/readyz', {}, undefined, tls);
    expect(ready.status).toBe(200);
    // The page's own origin over HTTPS counts as same-origin.
    const own = await send(
      app.adminPort,
      'POST',
      '/api/kv',
      { ...json, Origin: `https://127.0.0.1:${app.adminPort}` },
      setCommand('own'),
      tls,
    );
    expect(own.status).toBe(200);
    await expect(send(app.adminPort, 'GET', '/healthz')).rejects.toThrow();
  });
});
