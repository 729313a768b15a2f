import { describe, expect, it } from 'vitest';
import { useTwoNodeCluster } from '../helpers/test-cluster.js';
import { LegacyClient } from '../../scripts/lib/legacy-client.js';

// The ancestor's C++ client (emulated strictly: one recv(1024) per read, one JSON document per read, abort
// otherwise, no acks) against a two-node cluster behind nginx: frames relayed by nginx and the Redis bus
// must still arrive one per read, and a node killed under it loses nothing it had not shown.

const cluster = useTwoNodeCluster();

let names = 0;
async function legacyUser(port: number): Promise<{ client: LegacyClient; id: number; name: string }> {
  const name = `old${++names}-${Date.now() % 100000}`;
  const client = await LegacyClient.open(port, '127.0.0.1', { readDelayMs: 1 });
  const id = await client.register(name, 'pw');
  expect((await client.login(id, 'pw')).errno).toBe(0);
  return { client, id, name };
}

describe('the original ChatClient on a cluster', () => {
  it('shows bursts of 100 messages from senders on both nodes, through nginx, one frame per read', async () => {
    const [one, two] = cluster.current.nodes;
    const receiver = await legacyUser(cluster.current.port);
    const senders = await Promise.all([one, one, two, two].map((node) => legacyUser(node!.chatPort)));
    // Every sender writes its 25 messages at once, all four together.
    senders.forEach((sender, s) => {
      for (let i = 0; i < 25; i++) sender.client.chat(sender.id, sender.name, receiver.id, `s${s} m${i}`);
    });
    await receiver.client.waitShown(100, 30_000);
    expect(receiver.client.alive).toBe(true);
    for (let s = 0; s < 4; s++) {
      const mine = receiver.client.shown.filter((m) => m.msg.startsWith(`s${s} `)).map((m) => m.msg);
      expect(mine).toEqual(Array.from({ length: 25 }, (_, i) => `s${s} m${i}`));
    }
    for (const user of [receiver, ...senders]) user.client.quit();
  });

  it('after its node is killed, shows at the next login everything it had not shown (duplicates counted)', async () => {
    const [victim, survivor] = cluster.current.nodes;
    const sender = await legacyUser(survivor!.chatPort);
    const first = await legacyUser(victim!.chatPort);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      sent.push(`live ${i}`);
      sender.client.chat(sender.id, sender.name, first.id, `live ${i}`);
    }
    await first.client.waitShown(20);
    await victim!.stop('SIGKILL');
    // The original client exits when its connection closes.
    expect(await first.client.waitEnd()).toMatchObject({ kind: 'exit', reason: 'server closed' });
    for (let i = 0; i < 20; i++) {
      sent.push(`while away ${i}`);
      sender.client.chat(sender.id, sender.name, first.id, `while away ${i}`);
    }
    // The person starts the client again; the load balancer sends it to the surviving node.
    const again = await LegacyClient.open(cluster.current.port, '127.0.0.1', { readDelayMs: 1 });
    expect((await again.login(first.id, 'pw')).errno).toBe(0);
    const shownBefore = first.client.shown.map((m) => m.msg);
    const missing = sent.filter((m) => !shownBefore.includes(m));
    await again.waitShownAll(missing, 30_000);
    const shownAfter = again.shown.map((m) => m.msg);
    expect(shownAfter).toEqual(expect.arrayContaining(missing));
    // What it shows again is the tail it may not have shown, in order, each at most once.
    expect(shownAfter).toEqual(sent.slice(sent.length - shownAfter.length));
    const duplicates = shownAfter.filter((m) => shownBefore.includes(m)).length;
    console.info(`node killed under a v1 client: ${duplicates} duplicates of ${sent.length} messages`);
    expect(duplicates).toBeLessThanOrEqual(20);
    expect(again.alive).toBe(true);
    again.quit();
    sender.client.quit();
    await victim!.start();
  });
});
