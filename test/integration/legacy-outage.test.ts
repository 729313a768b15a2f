import { describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/parley-client.js';
import { LegacyClient } from '../../scripts/lib/legacy-client.js';
import { useNodeOnPrivateMariaDb } from '../helpers/outage-node.js';

// The ancestor's client never reads an error reply to a chat message, so a send refused during a MySQL
// outage used to vanish without a trace. Now it is held and retried (V1_HOLD_MS), in order.

describe('a v1 client sending through a MySQL outage', () => {
  const node = useNodeOnPrivateMariaDb({ V1_HOLD_MS: '30000' });

  it('holds what it sends while MySQL is down and delivers all of it, in order, when it returns', async () => {
    const sender = await LegacyClient.open(node.app.chatPort);
    const receiver = await LegacyClient.open(node.app.chatPort);
    const senderId = await sender.register('old-sender', 'pw');
    const receiverId = await receiver.register('old-receiver', 'pw');
    expect((await sender.login(senderId, 'pw')).errno).toBe(0);
    expect((await receiver.login(receiverId, 'pw')).errno).toBe(0);
    const probe = new ParleyClient({
      host: '127.0.0.1',
      port: node.app.chatPort,
      transport: 'tcp',
      requestTimeoutMs: 5000,
    });
    await probe.connect();
    await probe.register('probe', 'pw');
    await probe.login({ name: 'probe' }, 'pw');

    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push(`before ${i}`);
      sender.chat(senderId, 'old-sender', receiverId, `before ${i}`);
    }
    await receiver.waitShown(10);

    await node.mariadb.stop();
    for (let i = 0; i < 20; i++) {
      sent.push(`during ${i}`);
      sender.chat(senderId, 'old-sender', receiverId, `during ${i}`);
    }
    // A v2 send fails UNAVAILABLE: by then the v1 sends (written earlier) have failed too, and are held.
    await expect(probe.sendTo(receiverId, 'probe')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(receiver.shown).toHaveLength(10);
    await node.mariadb.resume();

    for (let i = 0; i < 5; i++) {
      sent.push(`after ${i}`);
      sender.chat(senderId, 'old-sender', receiverId, `after ${i}`);
    }
    await receiver.waitShown(35, 30_000);
    expect(receiver.shown.map((m) => m.msg)).toEqual(sent);
    expect(sender.alive && receiver.alive).toBe(true);
    probe.close();
    sender.quit();
    receiver.quit();
  });
});
