import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerAdminRoutes } from '../../../src/admin/admin-routes.js';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { KvStore } from '../../../src/kv/kv-store.js';
import { createLogger } from '../../../src/logger.js';
import { RawHttpConnection, type RawResponse } from '../../helpers/http-exchange.js';

// The fast lane must answer exactly as Node's http would: the same corpus (and a fuzzed set) of requests
// goes to an admin server with the lane and to one without it (Node's http for every request), and the
// two must agree on status, the headers that matter and the body — and on keeping the connection.

const TOKEN = 'secret-token';
const MAX_BODY = 256;

/** An admin server with the node's routes over a fresh KV store, plus an echo route; listening. */
async function adminServer(fastLane: boolean): Promise<{ port: number; server: AdminServer }> {
  const server = new AdminServer(createLogger('silent'), { token: TOKEN, maxBodyBytes: MAX_BODY, fastLane });
  registerAdminRoutes(server, {
    nodeId: 'differential',
    mode: 'test',
    kv: new KvStore({
      arrayCapacity: 16,
      hashCapacity: 16,
      rbtreeCapacity: 16,
      maxKeyBytes: 32,
      maxValueBytes: 64,
    }),
    metrics: { metrics: () => Promise.resolve('parley_test 1\n'), contentType: 'text/plain' },
    connections: () => ({ tcp: 0, ws: 0 }),
    sessions: () => 0,
    messagesPerS: () => 0,
  });
  server.fastRoute('POST /api/echo', (body) => ({ status: 200, json: JSON.stringify({ echo: body }) }));
  return { port: await server.listen('127.0.0.1', 0), server };
}

/** The response headers a client can act on; Date only as present or not (its value moves). */
const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'transfer-encoding',
  'cache-control',
  'connection',
  'keep-alive',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
];

const comparable = (r: RawResponse) => ({
  status: r.status,
  headers: Object.fromEntries(COMPARED_HEADERS.map((name) => [name, r.headers[name]])),
  date: r.headers['date'] !== undefined,
  body: r.body,
});

/** A request both paths answer with keep-alive, sent once the one under test was answered. */
const PROBE = Buffer.from('GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n', 'latin1');

/**
 * Sends `request` on a new connection; after its answer, either waits for the close the answer
 * announced or sends the probe (is the connection still good for another request?). The probe waits for
 * the answer: bytes after a request that asked to close draw a 400 from Node or not, by timing.
 */
async function converse(port: number, request: Buffer): Promise<unknown> {
  const connection = await RawHttpConnection.open(port);
  try {
    connection.send(request);
    const first = await connection.nextFinal();
    let probe: RawResponse[] = [];
    if (first.at(-1)?.headers['connection']?.toLowerCase() === 'close') await connection.waitClosed();
    else if (!connection.closed) {
      connection.send(PROBE);
      probe = await connection.nextFinal();
    }
    return { first: first.map(comparable), probe: probe.map(comparable), closed: connection.closed };
  } finally {
    connection.destroy();
  }
}

/** Sends `request` to a server with the lane and one without (fresh KV stores); expects the same answers. */
async function expectSameAnswers(request: Buffer): Promise<void> {
  const pair = await Promise.all([adminServer(true), adminServer(false)]);
  try {
    const [lane, http] = await Promise.all(pair.map(({ port }) => converse(port, request)));
    expect(lane, JSON.stringify(request.toString('latin1'))).toEqual(http);
  } finally {
    await Promise.all(pair.map(({ server }) => server.close()));
  }
}

const auth = `Authorization: Bearer ${TOKEN}\r\n`;
const kvBody = (cmd: string, key: string, value = 'v') => JSON.stringify({ cmd, key, value });
const post = (path: string, body: string, headers = `Host: x\r\n${auth}`, version = 'HTTP/1.1') =>
  `POST ${path} ${version}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Hand-written cases: plain requests, and every kind the lane must leave to Node or judge as Node does. */
const CORPUS: Record<string, string> = {
  'plain KV command': post('/api/kv', kvBody('HSET', 'a')),
  'the /kv/api alias': post('/kv/api/kv', kvBody('HGET', 'a')),
  stats: `GET /api/stats HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
  health: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  'health with a body': 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
  'readiness (not a fast route)': 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n',
  'unknown path': 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST to a GET route': 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
  preflight: 'OPTIONS /api/kv HTTP/1.1\r\nHost: x\r\nOrigin: http://o\r\n\r\n',
  'invalid JSON body': post('/api/kv', '{"cmd":'),
  'HTTP/1.0 without Host': post('/api/kv', kvBody('SET', 'b'), auth, 'HTTP/1.0'),
  'HTTP/1.0 keep-alive': post('/api/kv', kvBody('SET', 'c'), `${auth}Connection: keep-alive\r\n`, 'HTTP/1.0'),
  'HTTP/1.1 without Host': post('/api/kv', kvBody('SET', 'd'), auth),
  'HTTP/1.1 with an empty Host': post('/api/kv', kvBody('SET', 'd'), `Host:\r\n${auth}`),
  'two Host headers': post('/api/kv', kvBody('SET', 'd'), `Host: x\r\nHost: y\r\n${auth}`),
  'no token': post('/api/kv', kvBody('SET', 'e'), 'Host: x\r\n'),
  'wrong token': post('/api/kv', kvBody('SET', 'e'), 'Host: x\r\nAuthorization: Bearer wrong\r\n'),
  'two Authorization headers, wrong one first': post(
    '/api/kv',
    kvBody('SET', 'f'),
    `Host: x\r\nAuthorization: Bearer wrong\r\n${auth}`,
  ),
  'two Authorization headers, right one first': post(
    '/api/kv',
    kvBody('SET', 'f'),
    `Host: x\r\n${auth}Authorization: Bearer wrong\r\n`,
  ),
  'token without a space after the colon': post(
    '/api/kv',
    kvBody('GET', 'f'),
    `Host: x\r\nAuthorization:Bearer ${TOKEN}\r\n`,
  ),
  'token with trailing spaces and tab': post(
    '/api/kv',
    kvBody('GET', 'f'),
    `Host: x\r\nAuthorization: Bearer ${TOKEN} \t \r\n`,
  ),
  'token with a trailing no-break space': post(
    '/api/kv',
    kvBody('GET', 'f'),
    `Host: x\r\nAuthorization: Bearer ${TOKEN}\xa0\r\n`,
  ),
  'token with a trailing vertical tab': post(
    '/api/kv',
    kvBody('GET', 'f'),
    `Host: x\r\nAuthorization: Bearer ${TOKEN}\x0b\r\n`,
  ),
  'lower-case bearer': post('/api/kv', kvBody('GET', 'f'), `Host: x\r\nAuthorization: bearer ${TOKEN}\r\n`),
  'Connection: close': post('/api/kv', kvBody('SET', 'g'), `Host: x\r\n${auth}Connection: close\r\n`),
  'Connection: CLOSE': post('/api/kv', kvBody('SET', 'g'), `Host: x\r\n${auth}Connection: CLOSE\r\n`),
  'Connection: keep-alive, close': post(
    '/api/kv',
    kvBody('SET', 'g'),
    `Host: x\r\n${auth}Connection: keep-alive, close\r\n`,
  ),
  'Connection: close-ish': post('/api/kv', kvBody('SET', 'g'), `Host: x\r\n${auth}Connection: close-ish\r\n`),
  'Connection: te,close': post('/api/kv', kvBody('SET', 'g'), `Host: x\r\n${auth}Connection: te,close\r\n`),
  'Connection: upgrade without Upgrade': post(
    '/api/kv',
    kvBody('SET', 'g'),
    `Host: x\r\n${auth}Connection: upgrade\r\n`,
  ),
  'two Connection headers': post(
    '/api/kv',
    kvBody('SET', 'g'),
    `Host: x\r\n${auth}Connection: keep-alive\r\nConnection: close\r\n`,
  ),
  'HTTP/1.0, Connection: keep-alive, close': post(
    '/api/kv',
    kvBody('SET', 'g'),
    `${auth}Connection: keep-alive, close\r\n`,
    'HTTP/1.0',
  ),
  'Content-Length with leading zeros': `POST /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 003\r\n\r\nabc`,
  'Content-Length with spaces around': `POST /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length:   3  \r\n\r\nabc`,
  'two equal Content-Lengths': `POST /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
  'Content-Length: +3': `POST /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: +3\r\n\r\nabc`,
  'body over the limit': post('/api/echo', 'x'.repeat(MAX_BODY + 1)),
  'chunked body': `POST /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  'Expect: 100-continue': post('/api/echo', 'go', `Host: x\r\n${auth}Expect: 100-continue\r\n`),
  'query string': `POST /api/echo?x=1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nq`,
  'absolute-form target': `POST http://x/api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nq`,
  'lower-case method': `post /api/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nq`,
  'HTTP/1.2': `POST /api/echo HTTP/1.2\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nq`,
  'control character in another header': post('/api/echo', 'q', `Host: x\r\n${auth}X-Note: a\x01b\r\n`),
  'DEL in another header': post('/api/echo', 'q', `Host: x\r\n${auth}X-Note: a\x7fb\r\n`),
  'NUL in another header': post('/api/echo', 'q', `Host: x\r\n${auth}X-Note: a\x00b\r\n`),
  'obs-text in another header': post('/api/echo', 'q', `Host: x\r\n${auth}X-Note: caf\xe9\r\n`),
  'empty header value': post('/api/echo', 'q', `Host: x\r\n${auth}X-Empty:\r\n`),
  'space before the colon': post('/api/echo', 'q', `Host : x\r\n${auth}`),
  'invalid header name': post('/api/echo', 'q', `Host: x\r\n${auth}X@Y: 1\r\n`),
  'obs-fold': post('/api/echo', 'q', `Host: x\r\n${auth}X-Fold: a\r\n b\r\n`),
  'bare LF': `POST /api/echo HTTP/1.1\nHost: x\n${auth}Content-Length: 1\n\nq`,
  'empty line before the request': `\r\n${post('/api/echo', 'q')}`,
  'head over 8 KiB': post('/api/echo', 'q', `Host: x\r\n${auth}X-Big: ${'b'.repeat(9000)}\r\n`),
  'head over 16 KiB': post('/api/echo', 'q', `Host: x\r\n${auth}X-Big: ${'b'.repeat(17000)}\r\n`),
};

describe('fast lane and Node http answer alike', () => {
  it.each(Object.entries(CORPUS))('%s', async (_name, request) => {
    await expectSameAnswers(Buffer.from(request, 'latin1'));
  });

  it('for fuzzed requests to every route: header order, case, duplicates, odd values, versions', async () => {
    const headerName = (name: string) =>
      fc
        .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
        .map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
    // Header values: any byte but CR and LF, biased towards the characters parsers disagree on.
    const oddValue = fc
      .array(
        fc.oneof(
          fc.constantFrom(' ', '\t', '\xa0', '\x0b', '\x00', '\x7f', ',', 'close', 'keep-alive', TOKEN),
          fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
        ),
        { maxLength: 6 },
      )
      .map((parts) => parts.join('').replace(/[\r\n]/g, ''));
    const header = fc.oneof(
      fc.tuple(headerName('host'), fc.constantFrom('x', '', ' x ', 'a, b')),
      fc.tuple(
        headerName('authorization'),
        fc.oneof(
          fc.constantFrom(`Bearer ${TOKEN}`, ` Bearer ${TOKEN} `, 'Bearer wrong', `bearer ${TOKEN}`, ''),
          oddValue.map((v) => `Bearer ${TOKEN}${v}`),
        ),
      ),
      fc.tuple(
        headerName('connection'),
        fc.oneof(
          fc.constantFrom(
            'close',
            'keep-alive',
            'Close',
            ' close ',
            'keep-alive, close',
            'close-ish',
            'upgrade',
          ),
          oddValue,
        ),
      ),
      fc.tuple(headerName('content-type'), fc.constantFrom('application/json', 'text/plain')),
      fc.tuple(fc.constantFrom('X-Note', 'Accept', 'Keep-Alive', 'TE', 'Origin'), oddValue),
    );
    const route = fc.constantFrom(
      'POST /api/kv',
      'POST /kv/api/kv',
      'GET /api/stats',
      'GET /kv/api/stats',
      'GET /healthz',
      'POST /api/echo',
      'GET /readyz',
      'GET /api/kv/rbtree/keys',
    );
    const body = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('SET', 'GET', 'HSET', 'HGET', 'RSET', 'RDEL', 'COUNT', 'BOGUS'),
          fc.constantFrom('k1', 'k2', 'k3', 'ключ'),
          fc.string({ maxLength: 8 }),
        )
        .map(([cmd, key, value]) => kvBody(cmd, key, value)),
      fc.string({ maxLength: 40 }),
      fc.constant(''),
    );
    const request = fc
      .record({
        route,
        version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
        headers: fc.array(header, { maxLength: 6 }),
        body,
        lengthPadding: fc.constantFrom('', '0', '00'),
        lengthPosition: fc.nat(6),
      })
      .map(({ route, version, headers, body, lengthPadding, lengthPosition }) => {
        const bodyBytes = Buffer.from(body, 'utf8');
        const lines = headers.map(([name, value]) => `${name}: ${value}\r\n`);
        if (bodyBytes.length > 0 || lengthPadding)
          lines.splice(lengthPosition, 0, `Content-Length: ${lengthPadding}${bodyBytes.length}\r\n`);
        return Buffer.concat([
          Buffer.from(`${route} ${version}\r\n${lines.join('')}\r\n`, 'latin1'),
          bodyBytes,
        ]);
      });
    await fc.assert(fc.asyncProperty(request, expectSameAnswers), { numRuns: 500 });
  });
});
