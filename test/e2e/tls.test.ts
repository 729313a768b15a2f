import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { CertificateError } from '../../src/client/client-transport.js';
import { ParleyClient, type ChatMessage, type ParleyClientOptions } from '../../src/client/parley-client.js';
import { makeTestCerts, type TestCerts } from '../../scripts/lib/test-certs.js';
import { CliProcess } from '../helpers/cli-process.js';
import { once } from '../helpers/events.js';
import { LineClient } from '../helpers/line-client.js';
import { runServerToExit } from '../helpers/server-process.js';
import { startTestApp } from '../helpers/test-app.js';

// A single node serving TLS on its chat port (CHAT_TLS_CERT/KEY, embedded mode, a private CA made here).

let certs: TestCerts;
let app: RunningApp;
let ca: Buffer;
beforeAll(async () => {
  certs = await makeTestCerts();
  ca = readFileSync(certs.ca);
  app = await startTestApp({ CHAT_TLS_CERT: certs.cert, CHAT_TLS_KEY: certs.key });
});
afterAll(() => app?.stop());

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;

const options = (transport: 'tcp' | 'ws', tls: ParleyClientOptions['tls']): ParleyClientOptions => ({
  host: '127.0.0.1',
  port: app.chatPort,
  transport,
  reconnect: false,
  tls,
});

async function user(transport: 'tcp' | 'ws'): Promise<ParleyClient> {
  const name = unique(transport);
  const client = new ParleyClient(options(transport, { ca }));
  await client.connect();
  await client.register(name, 'pw');
  await client.login({ name }, 'pw');
  return client;
}

describe('TLS on the chat port of a node', () => {
  it('carries v2 over TLS and wss:// on one port: a TCP and a WebSocket user chat', async () => {
    const tcp = await user('tcp');
    const ws = await user('ws');
    const atWs = once<[ChatMessage]>(ws, 'message');
    await tcp.sendTo(ws.user!.id, 'over tls');
    expect((await atWs)[0]).toMatchObject({ msg: 'over tls', from: tcp.user });
    const atTcp = once<[ChatMessage]>(tcp, 'message');
    await ws.sendTo(tcp.user!.id, 'over wss');
    expect((await atTcp)[0]).toMatchObject({ msg: 'over wss', from: ws.user });
    expect(app.chatServer.stats().connections).toEqual({ tcp: 1, ws: 1 });
    tcp.close();
    ws.close();
  });

  it('carries the v1 protocol (NUL-framed login and chat) over TLS, TLS 1.2 included', async () => {
    const zhang = await LineClient.open(app.chatPort, '127.0.0.1', { ca });
    const li = await LineClient.open(app.chatPort, '127.0.0.1', { ca, maxVersion: 'TLSv1.2' });
    const ids: number[] = [];
    for (const [client, name] of [
      [zhang, unique('zhang')],
      [li, unique('li')],
    ] as const) {
      client.sendNul({ msgid: 4, name, password: '123456' });
      const id = (await client.nextOf(5)).id as number;
      client.sendNul({ msgid: 1, id, password: '123456' });
      expect(await client.nextOf(2)).toMatchObject({ errno: 0, id });
      ids.push(id);
    }
    zhang.sendNul({ msgid: 6, id: ids[0], name: 'zhang', toid: ids[1], msg: 'v1 over tls', time: 't' });
    expect(await li.nextOf(6)).toMatchObject({ id: ids[0], msg: 'v1 over tls' });
    zhang.close();
    li.close();
  });

  it("refuses to connect when the server's certificate is not trusted (no CA given), TCP and WebSocket", async () => {
    for (const transport of ['tcp', 'ws'] as const) {
      const client = new ParleyClient(options(transport, true));
      const error = await client.connect().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CertificateError);
      expect(error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      expect((error as Error).message).toMatch(/certificate did not verify/);
      client.close();
    }
  });

  it('refuses a certificate issued for another name', async () => {
    const client = new ParleyClient(options('tcp', { ca, servername: 'chat.example.com' }));
    await expect(client.connect()).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    client.close();
  });

  it('drops a plaintext client on the TLS port without a word (no JSON in clear)', async () => {
    const plain = await LineClient.open(app.chatPort);
    plain.sendNul({ msgid: 4, name: 'clear', password: 'text' });
    await plain.waitClosed();
    expect(plain.frames).toEqual([]);
  });

  it('parley-client --tls --ca chats; without --ca it exits 1 and says to pass the CA', async () => {
    const port = String(app.chatPort);
    const name = unique('cli');
    const ok = CliProcess.run(
      ['127.0.0.1', port, '--tls', '--ca', certs.ca, '--user', name, '--register', '--exec', 'friends'],
      { PARLEY_PASSWORD: 'pw' },
    );
    expect(await ok.exited).toBe(0);
    expect(ok.output).toMatch(/login ok/);
    const wss = CliProcess.run(
      [`wss://localhost:${port}/ws`, '--ca', certs.ca, '--user', name, '--exec', 'friends'],
      { PARLEY_PASSWORD: 'pw' },
    );
    expect(await wss.exited).toBe(0);
    const refused = CliProcess.run(['127.0.0.1', port, '--tls', '--user', name, '--exec', 'friends'], {
      PARLEY_PASSWORD: 'pw',
    });
    expect(await refused.exited).toBe(1);
    expect(refused.output).toMatch(/certificate did not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    expect(refused.output).toMatch(/pass its CA with --ca FILE/);
    const insecure = CliProcess.run(['127.0.0.1', port, '--insecure', '--user', name, '--exec', 'friends'], {
      PARLEY_PASSWORD: 'pw',
    });
    expect(await insecure.exited).toBe(0);
    expect(insecure.output).toMatch(/WARNING: --insecure: the server's TLS certificate is NOT checked/);
  });
});

describe('TLS behind a PROXY header (a load balancer passing TLS through)', () => {
  it('reads the header in clear, then the handshake, and counts the real client address', async () => {
    const node = await startTestApp({
      CHAT_TLS_CERT: certs.cert,
      CHAT_TLS_KEY: certs.key,
      TRUSTED_PROXIES: '127.0.0.0/8',
      MAX_CONNECTIONS_PER_IP: '1',
    });
    /** A TLS client whose connection starts with a PROXY v1 header naming `ip`. */
    const via = (ip: string) =>
      new Promise<LineClient>((resolve, reject) => {
        const raw = connect({ host: '127.0.0.1', port: node.chatPort }, () => {
          raw.write(`PROXY TCP4 ${ip} 127.0.0.1 40000 ${node.chatPort}\r\n`);
          const secure = tlsConnect({ socket: raw, ca, servername: 'localhost' }, () =>
            resolve(LineClient.fromSocket(secure)),
          );
          secure.once('error', reject);
        });
      });
    try {
      const first = await via('198.51.100.1');
      first.sendLine({ msgid: 18, reqId: 'a' });
      expect(await first.next((f) => f.reqId === 'a')).toMatchObject({ msgid: 19 });
      // The same client address again is over MAX_CONNECTIONS_PER_IP=1: refused before any handshake.
      await expect(via('198.51.100.1')).rejects.toThrow();
      const other = await via('198.51.100.2');
      other.sendLine({ msgid: 18, reqId: 'b' });
      expect(await other.next((f) => f.reqId === 'b')).toMatchObject({ msgid: 19 });
      expect(node.chatServer.stats().refused.perIp).toBe(1);
      first.close();
      other.close();
    } finally {
      await node.stop();
    }
  });
});

describe('mutual TLS (CHAT_TLS_CA)', () => {
  it('admits only clients with a certificate signed by CHAT_TLS_CA', async () => {
    const strict = await startTestApp({
      CHAT_TLS_CERT: certs.cert,
      CHAT_TLS_KEY: certs.key,
      CHAT_TLS_CA: certs.ca,
    });
    try {
      const base = { host: '127.0.0.1', port: strict.chatPort, transport: 'tcp', reconnect: false } as const;
      const anonymous = new ParleyClient({ ...base, tls: { ca } });
      // TLS 1.3 reports a refused client certificate after the handshake: the first request fails.
      const refused = await anonymous
        .connect()
        .then(() => anonymous.register(unique('anon'), 'pw'))
        .then(
          () => 'admitted',
          () => 'refused',
        );
      expect(refused).toBe('refused');
      anonymous.close();
      const known = new ParleyClient({
        ...base,
        tls: { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
      });
      await known.connect();
      expect(await known.register(unique('mtls'), 'pw')).toBeGreaterThan(0);
      known.close();
    } finally {
      await strict.stop();
    }
  });
});

describe('TLS files at start-up', () => {
  it('exits 1 naming the variable when a file is missing or the key does not match', async () => {
    const missing = await runServerToExit({
      CHAT_TLS_CERT: '/nonexistent/cert.pem',
      CHAT_TLS_KEY: certs.key,
    });
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/CHAT_TLS_CERT: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/);
    const mismatched = await runServerToExit({ CHAT_TLS_CERT: certs.cert, CHAT_TLS_KEY: certs.clientKey });
    expect(mismatched.code).toBe(1);
    expect(mismatched.output).toMatch(/CHAT_TLS_KEY\/CHAT_TLS_CERT: unusable certificate or key/);
    const alone = await runServerToExit({ CHAT_TLS_CERT: certs.cert });
    expect(alone.code).toBe(2);
    expect(alone.output).toMatch(/CHAT_TLS_KEY: required with CHAT_TLS_CERT/);
  });
});
