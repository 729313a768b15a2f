import { afterEach, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { LineClient } from '../helpers/line-client.js';
import { startTestApp } from '../helpers/test-app.js';

// Behind a load balancer every client has the balancer's address; nginx sends the real one in a PROXY
// protocol header, which a node believes only from TRUSTED_PROXIES. Tests play the balancer on loopback.

const apps: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()));
});
async function app(env: Record<string, string>): Promise<RunningApp> {
  const started = await startTestApp(env);
  apps.push(started);
  return started;
}

/** A connection that starts with a PROXY v1 header naming `ip` as the client. */
async function via(port: number, ip: string): Promise<LineClient> {
  const client = await LineClient.open(port);
  client.write(`PROXY TCP4 ${ip} 127.0.0.1 40000 ${port}\r\n`);
  return client;
}

describe('client addresses from a PROXY header', () => {
  it('refuses a PROXY header from an address that is not a trusted proxy', async () => {
    const node = await app({ TRUSTED_PROXIES: '' });
    const forged = await via(node.chatPort, '203.0.113.5');
    forged.sendLine({ msgid: 18 });
    await forged.waitClosed();
    expect(forged.frames).toEqual([]);
    expect(node.chatServer.stats().refused.proxy).toBe(1);
    // A client without a header is served as before.
    const plain = await LineClient.open(node.chatPort);
    plain.sendLine({ msgid: 18, reqId: 'p' });
    expect(await plain.next((f) => f.reqId === 'p')).toMatchObject({ msgid: 19 });
    plain.close();
  });

  it('counts connections per client address from a trusted proxy, not per proxy', async () => {
    const node = await app({ TRUSTED_PROXIES: '127.0.0.0/8', MAX_CONNECTIONS_PER_IP: '2' });
    const a1 = await via(node.chatPort, '198.51.100.1');
    const a2 = await via(node.chatPort, '198.51.100.1');
    const a3 = await via(node.chatPort, '198.51.100.1');
    a3.sendLine({ msgid: 18 });
    expect(await a3.nextOf(11)).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', reconnect: false });
    await a3.waitClosed();
    const b = await via(node.chatPort, '198.51.100.2');
    for (const [client, tag] of [
      [a1, 'a1'],
      [a2, 'a2'],
      [b, 'b'],
    ] as const) {
      client.sendLine({ msgid: 18, reqId: tag });
      expect(await client.next((f) => f.reqId === tag)).toMatchObject({ msgid: 19 });
    }
    expect(node.chatServer.stats().refused.perIp).toBe(1);
    for (const client of [a1, a2, b]) client.close();
  });

  it('keeps a legitimate login quick while a login storm from one address waits its turn', async () => {
    const node = await app({
      TRUSTED_PROXIES: '127.0.0.1',
      BCRYPT_COST: '9',
      BCRYPT_CONCURRENCY: '1',
      BCRYPT_QUEUE: '16',
      BCRYPT_QUEUE_PER_IP: '2',
      LOGIN_PER_IP_PER_MIN: '100000',
      LOGIN_RATE_PER_S: '1000',
      LOGIN_BURST: '1000',
    });
    const owner = await via(node.chatPort, '203.0.113.80');
    owner.sendLine({ msgid: 4, name: 'owner', password: 'pw' });
    const { id } = await owner.nextOf(5);
    // 100 connections from one address, each asking for password checks of ever new ids (so no backoff
    // stops them): ~10 s of hashing at one hash at a time (~30 ms each at cost 9).
    const storm = await Promise.all(Array.from({ length: 100 }, () => via(node.chatPort, '198.51.100.66')));
    storm.forEach((client, c) => {
      for (let i = 0; i < 3; i++) client.sendLine({ msgid: 1, id: 1000 + c * 3 + i, password: 'x' });
    });
    // Wait until the storm is being hashed: its first answers come back.
    await Promise.race(storm.map((client) => client.nextOf(2, 10_000)));
    const started = Date.now();
    owner.sendLine({ msgid: 1, id, password: 'pw' });
    expect(await owner.nextOf(2, 15_000)).toMatchObject({ errno: 0 });
    // Its address has no share in use: it waits for at most the hashes of other addresses' turns.
    expect(Date.now() - started).toBeLessThan(1000);
    // The storm's excess was refused at once with a retry hint rather than queued.
    const refused = storm.flatMap((client) => client.frames).filter((f) => f.retryAfterMs !== undefined);
    expect(refused.length).toBeGreaterThan(0);
    for (const client of [owner, ...storm]) client.close();
  });
});
