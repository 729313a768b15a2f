import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/client/parley-client.js';
import { loggedInClient, useNodeOnPrivateMariaDb } from '../helpers/outage-node.js';

// Durable before live, re-proven the hard way: MariaDB is SIGKILLed (no clean shutdown, crash recovery on
// restart) while a sender is mid-stream. Every message that was acked must reach the recipient, once, in
// order, after the database returns.

const node = useNodeOnPrivateMariaDb();
const user = (name: string) => loggedInClient(node.app.chatPort, name, 3000);

describe('MariaDB killed under load', () => {
  it('delivers every acked message once and in order after MariaDB comes back from a SIGKILL', async () => {
    const sender = await user('k-sender');
    const receiver = await user('k-receiver');
    const received: string[] = [];
    receiver.on('message', (m: ChatMessage) => received.push(m.msg));
    const acked: string[] = [];
    const refused: string[] = [];
    let n = 0;
    let sending = true;
    // Four lanes sending as fast as acks come back.
    const lanes = Array.from({ length: 4 }, async (_, lane) => {
      while (sending) {
        const text = `${lane}:${n++}`;
        try {
          await sender.sendTo(receiver.user!.id, text);
          acked.push(text);
        } catch {
          refused.push(text);
        }
      }
    });
    while (acked.length < 200) await new Promise((resolve) => setImmediate(resolve));
    await node.mariadb.kill();
    // Sends fail (retried, then refused) while it is down.
    const refusedBefore = refused.length;
    while (refused.length === refusedBefore) await new Promise((resolve) => setTimeout(resolve, 20));
    await node.mariadb.resume();
    const ackedAtReturn = acked.length;
    while (acked.length < ackedAtReturn + 200) await new Promise((resolve) => setTimeout(resolve, 20));
    sending = false;
    await Promise.all(lanes);
    await expect
      .poll(() => acked.every((text) => received.includes(text)), { timeout: 20_000, interval: 100 })
      .toBe(true);
    expect(new Set(received).size).toBe(received.length);
    for (let lane = 0; lane < 4; lane++) {
      const order = received.filter((t) => t.startsWith(`${lane}:`)).map((t) => Number(t.split(':')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    console.info(
      `MariaDB SIGKILL: ${acked.length} acked, all delivered; ${refused.length} refused while down`,
    );
    sender.close();
    receiver.close();
  });
});
