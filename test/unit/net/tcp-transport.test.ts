import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTransport } from '../../../src/net/tcp-transport.js';
import type { TransportEvents } from '../../../src/net/transport.js';

const events: TransportEvents = {
  onFrame: () => undefined,
  onOversize: () => undefined,
  onDrain: () => undefined,
  onClosed: () => undefined,
};

describe('TcpTransport', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  /** A transport over one end of a loopback connection. */
  async function transport(): Promise<TcpTransport> {
    server = createServer((socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client = connect(port, '127.0.0.1');
    sockets.push(client);
    await once(client, 'connect');
    const tcp = new TcpTransport(client, 1024, Buffer.alloc(0), { ip: '127.0.0.1', port: 1 });
    tcp.start(events);
    return tcp;
  }

  it('holds the writes of one tick together until the tick ends', async () => {
    const tcp = await transport();
    tcp.write('a');
    tcp.write('b');
    expect(tcp.bufferedBytes()).toBe(4);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(tcp.bufferedBytes()).toBe(0);
  });

  it('hands a frame written alone to the OS at once', async () => {
    const tcp = await transport();
    tcp.write('a', undefined, true);
    expect(tcp.bufferedBytes()).toBe(0);
  });
});
