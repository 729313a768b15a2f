import { describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/parley-client.js';
import { once } from '../helpers/events.js';
import { LineClient } from '../helpers/line-client.js';
import { occupyPort, runServerToExit, spawnServer } from '../helpers/server-process.js';

describe('the server process', () => {
  it('exits with code 2 and names the bad variable before opening a socket', async () => {
    const { code, output } = await runServerToExit({ CHAT_PORT: 'not-a-port' });
    expect(code).toBe(2);
    expect(output).toMatch(/CHAT_PORT/);
    const flag = await runServerToExit({}, ['--bogus-flag', '1']);
    expect(flag.code).toBe(2);
    expect(flag.output).toBe('parley: unknown option --bogus-flag (see --help)\n');
  });

  it('fails start-up clearly (exit 1, within 10 s) when the chat port is taken', async () => {
    const first = await spawnServer({});
    const { code, output, elapsedMs } = await runServerToExit({ CHAT_PORT: String(first.chatPort) });
    expect(code).toBe(1);
    expect(output).toMatch(/EADDRINUSE/);
    expect(elapsedMs).toBeLessThan(10_000);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('fails start-up (exit 1, within 10 s) when the admin port is taken, the chat port already open', async () => {
    const busy = await occupyPort();
    try {
      const { code, output, elapsedMs } = await runServerToExit({
        CHAT_HOST: '127.0.0.1',
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(busy.port),
      });
      expect(code).toBe(1);
      expect(output).toMatch(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${busy.port}`));
      expect(elapsedMs).toBeLessThan(10_000);
    } finally {
      await busy.release();
    }
  });

  it('says it runs in embedded mode and drains on SIGTERM: notice to v2, close to v1, exit 0', async () => {
    const server = await spawnServer({ NODE_ID: 'drain-node' });
    expect(server.output()).toMatch(/single node, data kept in memory/);
    const health = await fetch(`http://127.0.0.1:${server.adminPort}/healthz`);
    expect(health.status).toBe(200);

    const v2 = new ParleyClient({
      host: '127.0.0.1',
      port: server.chatPort,
      transport: 'ws',
      reconnect: false,
    });
    await v2.connect();
    await v2.register('drain-me', 'pw');
    await v2.login({ name: 'drain-me' }, 'pw');
    const v1 = await LineClient.open(server.chatPort);
    v1.sendNul({ msgid: 4, name: 'legacy', password: 'pw' });
    await v1.nextOf(5);

    const notice = once<[{ code: string; reconnectInMs: number }]>(v2, 'notice');
    const disconnected = once(v2, 'disconnected');
    server.child.kill('SIGTERM');
    const [{ code, reconnectInMs }] = await notice;
    expect(code).toBe('SERVER_DRAINING');
    expect(reconnectInMs).toBeGreaterThanOrEqual(0);
    await disconnected;
    await v1.waitClosed();
    expect(v1.frames).toEqual([]);
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/"msg":"stopped"/);
    // Not a terminal: JSON lines, every one naming the node.
    const lines = server.output().trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ node: 'drain-node' });
  });
});
