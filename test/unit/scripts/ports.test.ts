import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertPortsFree,
  assertSoleListener,
  PortInUseError,
  tcpListeners,
} from '../../../scripts/lib/ports.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function occupy(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

describe('port checks of the local cluster', () => {
  it('finds a listening socket in /proc/net/tcp with its address and port', async () => {
    const port = await occupy();
    expect(tcpListeners()).toContainEqual(expect.objectContaining({ address: '127.0.0.1', port }));
  });

  it('refuses a port in use in one line naming the port, its purpose, the process and its pid', async () => {
    const port = await occupy();
    const refusal = assertPortsFree([{ host: '127.0.0.1', port, what: 'load balancer', hint: 'use --port' }]);
    await expect(refusal).rejects.toBeInstanceOf(PortInUseError);
    const message = await refusal.catch((error: Error) => error.message);
    expect(message).toMatch(new RegExp(`^port ${port} \\(load balancer\\) on 127\\.0\\.0\\.1 is in use by `));
    expect(message).toContain(`pid ${process.pid}`);
    expect(message).toContain(`listening on 127.0.0.1:${port}; use --port`);
    expect(message).not.toContain('\n');
  });

  it('sees a wildcard listener as a conflict for 127.0.0.1', async () => {
    const port = await occupy('0.0.0.0');
    await expect(assertPortsFree([{ host: '127.0.0.1', port, what: 'x' }])).rejects.toThrow(
      `listening on 0.0.0.0:${port}`,
    );
  });

  it('accepts free ports and skips port 0', async () => {
    const port = await occupy();
    servers[0]!.close();
    servers.length = 0;
    await expect(
      assertPortsFree([
        { host: '127.0.0.1', port, what: 'x' },
        { host: '127.0.0.1', port: 0, what: 'unused' },
      ]),
    ).resolves.toBeUndefined();
  });

  it('after start-up, refuses a port that another process listens on too', async () => {
    const port = await occupy();
    expect(() => assertSoleListener('127.0.0.1', port, [process.pid], 'load balancer')).not.toThrow();
    expect(() => assertSoleListener('127.0.0.1', port, [1], 'load balancer')).toThrow(
      new RegExp(`^port ${port} \\(load balancer\\) on 127\\.0\\.0\\.1 is shared with .*pid ${process.pid}`),
    );
  });
});
