import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient } from '../../src/client/parley-client.js';
import { LegacyClient } from '../../scripts/lib/legacy-client.js';
import { MariaDb } from '../../scripts/lib/mariadb.js';
import { startTestApp } from '../helpers/test-app.js';

// The ancestor's client never reads an error reply to a chat message, so a send refused during a MySQL
// outage used to vanish without a trace. Now it is held and retried (V1_HOLD_MS), in order.

describe('a v1 client sending through a MySQL outage', () => {
  let mariadb: MariaDb;
  let app: RunningApp;
  beforeAll(async () => {
    mariadb = await MariaDb.start();
    app = await startTestApp({
      MYSQL_URL: await mariadb.createDatabase(),
      MIGRATE: 'auto',
      MYSQL_ACQUIRE_TIMEOUT_MS: '500',
      MYSQL_CONNECT_TIMEOUT_MS: '500',
      V1_HOLD_MS: '30000',
    });
  });
  afterAll(async () => {
    await app.stop();
    await mariadb.destroy();
  });

  it('holds what it sends while MySQL is down and delivers all of it, in order, when it returns', async () => {
    const sender = await LegacyClient.open(app.chatPort);
    const receiver = await LegacyClient.open(app.chatPort);
    const senderId = await sender.register('old-sender', 'pw');
    const receiverId = await receiver.register('old-receiver', 'pw');
    expect((await sender.login(senderId, 'pw')).errno).toBe(0);
    expect((await receiver.login(receiverId, 'pw')).errno).toBe(0);
    const probe = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
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

    await mariadb.stop();
    for (let i = 0; i < 20; i++) {
      sent.push(`during ${i}`);
      sender.chat(senderId, 'old-sender', receiverId, `during ${i}`);
    }
    // A v2 send fails UNAVAILABLE: by then the v1 sends (written earlier) have failed too, and are held.
    await expect(probe.sendTo(receiverId, 'probe')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(receiver.shown).toHaveLength(10);
    await mariadb.resume();

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
