import { describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/parley-client.js';
import { once } from '../helpers/events.js';
import { startTestApp } from '../helpers/test-app.js';

describe('embedded node restart', () => {
  it('tells a resuming client its session is lost when the embedded data did not survive', async () => {
    const first = await startTestApp({ SESSION_SECRET: 'first-secret-0123456789' });
    const port = first.chatPort;
    const client = new ParleyClient({
      host: '127.0.0.1',
      port,
      transport: 'tcp',
      backoffMinMs: 20,
      backoffMaxMs: 100,
    });
    await client.connect();
    await client.register('ephemeral', 'pw');
    await client.login({ name: 'ephemeral' }, 'pw');
    const notice = once<[{ code: string }]>(client, 'notice');
    const lost = once<[{ code: string }]>(client, 'session-lost', 15_000);
    await first.stop();
    expect((await notice)[0].code).toBe('SERVER_DRAINING');
    const second = await startTestApp({
      CHAT_PORT: String(port),
      SESSION_SECRET: 'second-secret-0123456789',
    });
    try {
      expect((await lost)[0].code).toBe('TOKEN_INVALID');
      expect(client.connected).toBe(false);
    } finally {
      client.close();
      await second.stop();
    }
  });
});
