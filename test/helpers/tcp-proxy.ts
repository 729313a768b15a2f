import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Destroys every proxied connection (both sides see a close), as a crashing load balancer would. */
  cut(): void;
  /** Stops forwarding on every current connection without closing it, as a frozen or unplugged host would. */
  freeze(): void;
  /** While on, new connections are closed at once (a host whose service is down); cut() the current ones. */
  refuse(on: boolean): void;
  close(): void;
}

/** A TCP proxy on 127.0.0.1 in front of a local port; new connections keep working after cut() or freeze(). */
export async function tcpProxy(target: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) {
      s.on('close', () => pairs.delete(pair));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const destroyAll = () => pairs.forEach((pair) => pair.forEach((s) => s.destroy()));
  return {
    port: (server.address() as { port: number }).port,
    cut: destroyAll,
    freeze: () =>
      pairs.forEach(([client, upstream]) => {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Read and drop: nothing reaches the other side, and no FIN or RST is sent.
        client.on('data', () => {});
        upstream.on('data', () => {});
      }),
    refuse: (on) => (refusing = on),
    close: () => (destroyAll(), server.close()),
  };
}
