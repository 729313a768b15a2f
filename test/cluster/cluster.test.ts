import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParleyClient, type ChatMessage } from '../../src/client/parley-client.js';
import { useTwoNodeCluster } from '../helpers/test-cluster.js';
import { Traffic, type TrafficReport } from '../../scripts/lib/traffic.js';
import { once } from '../helpers/events.js';
import { LineClient } from '../helpers/line-client.js';

const cluster = useTwoNodeCluster();

const run = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let names = 0;

async function login(
  port: number,
  transport: 'tcp' | 'ws' = 'tcp',
  name = `c${++names}-${Date.now() % 100000}`,
): Promise<ParleyClient> {
  const client = new ParleyClient({
    host: '127.0.0.1',
    port,
    transport,
    backoffMinMs: 50,
    backoffMaxMs: 500,
    // Named, so the client library does not generate one and store it in ~/.config/parley.
    device: 'test',
  });
  await client.connect();
  await client.register(name, 'pw').catch(() => undefined);
  await client.login({ name }, 'pw');
  return client;
}

/** Logs clients in through nginx until there is one on each node. */
async function onePerNode(): Promise<[ParleyClient, ParleyClient]> {
  const byNode = new Map<string, ParleyClient>();
  const extra: ParleyClient[] = [];
  for (let i = 0; i < 20 && byNode.size < 2; i++) {
    const client = await login(cluster.current.port, i % 2 ? 'ws' : 'tcp');
    if (byNode.has(client.node!)) extra.push(client);
    else byNode.set(client.node!, client);
  }
  for (const client of extra) client.close();
  expect(byNode.size).toBe(2);
  return [...byNode.values()] as [ParleyClient, ParleyClient];
}

function expectClean(report: TrafficReport): void {
  expect(report.acked).toBeGreaterThan(0);
  expect({ lost: report.lost, duplicates: report.duplicates, reordered: report.reordered }).toEqual({
    lost: 0,
    duplicates: 0,
    reordered: 0,
  });
}

describe('a Parley cluster behind nginx', () => {
  it('lets users on different nodes chat 1:1 and in groups through the load balancer (TCP and WebSocket)', async () => {
    const [a, b] = await onePerNode();
    expect(a.node).not.toBe(b.node);
    const atB = once<[ChatMessage]>(b, 'message');
    await a.sendTo(b.user!.id, 'across nodes');
    expect((await atB)[0]).toMatchObject({ msg: 'across nodes', from: a.user });
    const groupid = await a.createGroup(`cross-${Date.now()}`);
    await b.joinGroup(groupid);
    const c = await login(cluster.current.port);
    await c.joinGroup(groupid);
    const fanout = [once<[ChatMessage]>(a, 'message'), once<[ChatMessage]>(b, 'message')];
    await c.sendToGroup(groupid, 'to every node');
    for (const [m] of await Promise.all(fanout)) expect(m).toMatchObject({ groupid, msg: 'to every node' });
    expect(await a.whois(b.user!.name)).toMatchObject({ online: true });
    // The events crossed Redis: the receiving nodes timed the hop and the delivery.
    const scraped = await Promise.all(
      cluster.current.nodes.map(async (node) =>
        (await fetch(`http://127.0.0.1:${node.adminPort}/metrics`)).text(),
      ),
    );
    const total = (series: string) =>
      scraped.reduce(
        (sum, text) => sum + Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1] ?? 0),
        0,
      );
    expect(total('parley_bus_publish_to_receive_seconds_count')).toBeGreaterThan(0);
    expect(total('parley_delivery_latency_seconds_count\\{path="live"\\}')).toBeGreaterThan(0);
    for (const client of [a, b, c]) client.close();
  });

  it("carries v2 over nginx's TLS listener (TCP and wss://) between users on different nodes", async () => {
    const ca = readFileSync(cluster.current.tlsCa);
    const byNode = new Map<string, ParleyClient>();
    for (let i = 0; i < 20 && byNode.size < 2; i++) {
      const name = `tls${i}-${Date.now() % 100000}`;
      const client = new ParleyClient({
        host: 'localhost',
        port: cluster.current.tlsPort,
        transport: i % 2 ? 'ws' : 'tcp',
        tls: { ca },
        reconnect: false,
        device: 'test',
      });
      await client.connect();
      await client.register(name, 'pw');
      await client.login({ name }, 'pw');
      if (byNode.has(client.node!)) client.close();
      else byNode.set(client.node!, client);
    }
    const [a, b] = [...byNode.values()] as [ParleyClient, ParleyClient];
    expect(a.node).not.toBe(b.node);
    const atB = once<[ChatMessage]>(b, 'message');
    await a.sendTo(b.user!.id, 'encrypted to the load balancer');
    expect((await atB)[0]).toMatchObject({ msg: 'encrypted to the load balancer', from: a.user });
    a.close();
    b.close();
    // Without the cluster's CA the self-signed chain does not verify: a clear error, nothing sent.
    const untrusting = new ParleyClient({
      host: '127.0.0.1',
      port: cluster.current.tlsPort,
      transport: 'tcp',
      tls: true,
      device: 'test',
    });
    await expect(untrusting.connect()).rejects.toMatchObject({
      name: 'CertificateError',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    untrusting.close();
  });

  it("carries a v1 login and chat (NUL-framed) over nginx's TLS listener", async () => {
    const ca = readFileSync(cluster.current.tlsCa);
    const [zhang, li] = await Promise.all([
      LineClient.open(cluster.current.tlsPort, '127.0.0.1', { ca }),
      LineClient.open(cluster.current.tlsPort, '127.0.0.1', { ca }),
    ]);
    const ids: number[] = [];
    for (const client of [zhang, li]) {
      const name = `v1tls${ids.length}-${Date.now() % 100000}`;
      client.sendNul({ msgid: 4, name, password: '123456' });
      const id = (await client.nextOf(5)).id as number;
      client.sendNul({ msgid: 1, id, password: '123456' });
      expect(await client.nextOf(2)).toMatchObject({ errno: 0, id, name });
      ids.push(id);
    }
    zhang.sendNul({ msgid: 6, id: ids[0], name: 'zhang', toid: ids[1], msg: 'v1 through TLS', time: 't' });
    expect(await li.nextOf(6)).toMatchObject({ id: ids[0], toid: ids[1], msg: 'v1 through TLS' });
    zhang.close();
    li.close();
  });

  it('takes over a session across nodes: a login on node 2 kicks the session on node 1', async () => {
    const [one, two] = cluster.current.nodes;
    const first = await login(one!.chatPort, 'tcp', `roamer-${Date.now()}`);
    const kicked = once(first, 'kicked');
    const second = await login(two!.chatPort, 'tcp', first.user!.name);
    await kicked;
    const sender = await login(one!.chatPort);
    const got = once<[ChatMessage]>(second, 'message');
    await sender.sendTo(second.user!.id, 'to the new node');
    expect((await got)[0].msg).toBe('to the new node');
    second.close();
    sender.close();
  });

  it('loses nothing when a node is killed with SIGKILL under load: clients resume on the other node', async () => {
    const traffic = new Traffic({
      host: '127.0.0.1',
      port: cluster.current.port,
      clients: 20,
      groupShare: 0.2,
    });
    await traffic.connect();
    traffic.start();
    await run(1000);
    const victim = cluster.current.nodes[0]!;
    await victim.stop('SIGKILL');
    await run(2500);
    await traffic.stop();
    const report = await traffic.drain();
    expectClean(report);
    expect(report.resumes).toBeGreaterThan(0);
    // Every client is attached to the surviving node now.
    expect(new Set(traffic.clients.map((c) => c.node))).toEqual(new Set([cluster.current.nodes[1]!.nodeId]));
    traffic.close();
    await victim.start();
  });

  it('loses nothing at any device when a node is killed under load with half the users on two devices', async () => {
    const traffic = new Traffic({
      host: '127.0.0.1',
      port: cluster.current.port,
      clients: 12,
      devicesPerUser: 2,
      deviceShare: 0.5,
      groupShare: 0.2,
      groupSize: 4,
    });
    await traffic.connect();
    expect(traffic.clients.length).toBe(18);
    traffic.start();
    await run(1000);
    // The node holding a second device (nginx may have put every client on one node after the last test).
    const second = traffic.users.find((u) => u.devices.length === 2)!.devices[1]!;
    const victim = cluster.current.nodes.find((node) => node.nodeId === second.node)!;
    await victim.stop('SIGKILL');
    await run(2500);
    await traffic.stop();
    const report = await traffic.drain();
    expectClean(report);
    expect(report.resumes).toBeGreaterThan(0);
    // Own sends came back: to the other device (counted in delivered) and to the sender (an echo, marked).
    expect(report.echoes).toBeGreaterThan(0);
    expect(report.unmarkedEchoes).toBe(0);
    expect(report.delivered).toBeGreaterThan(report.acked);
    traffic.close();
    await victim.start();
  });

  it('loses nothing when Redis restarts under load; local chat continues meanwhile; presence comes back', async () => {
    const traffic = new Traffic({
      host: '127.0.0.1',
      port: cluster.current.port,
      clients: 20,
      groupShare: 0.2,
    });
    await traffic.connect();
    traffic.start();
    await run(800);
    await cluster.current.redis!.stop();
    const duringOutage = traffic.report().delivered;
    await run(1500);
    expect(traffic.report().delivered).toBeGreaterThan(duringOutage);
    await cluster.current.redis!.resume();
    await run(1000);
    await traffic.stop();
    const report = await traffic.drain();
    expectClean(report);
    // Presence leases were lost with Redis and are re-asserted by the nodes' heartbeats.
    const [a, b] = [traffic.clients[0]!, traffic.clients[3]!];
    let online = false;
    for (let i = 0; i < 30 && !online; i++) {
      online = (await a.whois(b.user!.name)).online;
      if (!online) await run(200);
    }
    expect(online).toBe(true);
    traffic.close();
  });

  it('moves the clients of a node drained with SIGTERM to the other node without loss', async () => {
    const traffic = new Traffic({ host: '127.0.0.1', port: cluster.current.port, clients: 20, lanes: 2 });
    await traffic.connect();
    traffic.start();
    await run(800);
    const leaving = cluster.current.nodes[1]!;
    const notices = traffic.clients
      .filter((c) => c.node === leaving.nodeId)
      .map((c) => once(c, 'notice', 10_000));
    expect(await leaving.stop('SIGTERM')).toBe(0);
    await Promise.all(notices);
    await run(1500);
    await traffic.stop();
    expectClean(await traffic.drain());
    expect(new Set(traffic.clients.map((c) => c.node))).toEqual(new Set([cluster.current.nodes[0]!.nodeId]));
    traffic.close();
    await leaving.start();
  });

  it('shows users of a crashed node offline once their leases expire, with no one resetting them', async () => {
    const [one, two] = cluster.current.nodes;
    const watcher = await login(two!.chatPort);
    const crashing = await login(one!.chatPort);
    expect((await watcher.whois(crashing.user!.name)).online).toBe(true);
    await one!.stop('SIGKILL');
    const started = Date.now();
    let online = true;
    while (online && Date.now() - started < 10_000) {
      online = (await watcher.whois(crashing.user!.name)).online;
      if (online) await run(250);
    }
    expect(online).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000 + 1500);
    crashing.close();
    watcher.close();
    await one!.start();
  });
});
