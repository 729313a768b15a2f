import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ParleyClient } from '../../../src/client/parley-client.js';

/** A server that answers the first `failures` chat sends with UNAVAILABLE and then ACKs; records each send. */
async function flakyServer(
  failures: number,
): Promise<{ server: Server; port: number; sends: Record<string, unknown>[] }> {
  const sends: Record<string, unknown>[] = [];
  const server = createServer((socket: Socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const frame = JSON.parse(buffer.slice(0, end)) as Record<string, unknown>;
        buffer = buffer.slice(end + 1);
        if (frame.msgid !== 6) continue;
        sends.push(frame);
        const reply =
          sends.length <= failures
            ? { msgid: 11, errno: 50, code: 'UNAVAILABLE', errmsg: 'down', re: 6, reqId: frame.reqId }
            : { msgid: 12, re: 6, reqId: frame.reqId, mid: 99, ts: 0 };
        socket.write(`${JSON.stringify(reply)}\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sends };
}

let server: Server | undefined;
let client: ParleyClient | undefined;
afterEach(() => {
  client?.close();
  server?.close();
});

describe('ParleyClient sends while the server database is down', () => {
  it('retries a send answered UNAVAILABLE with the same cmid until it is stored', async () => {
    const flaky = await flakyServer(3);
    server = flaky.server;
    client = new ParleyClient({ host: '127.0.0.1', port: flaky.port, transport: 'tcp', reconnect: false });
    await client.connect();
    expect(await client.sendTo(2, 'hello', 'cmid-1')).toBe(99);
    expect(flaky.sends.map((s) => s.cmid)).toEqual(['cmid-1', 'cmid-1', 'cmid-1', 'cmid-1']);
  });

  it('gives up with UNAVAILABLE once requestTimeoutMs has passed', async () => {
    const flaky = await flakyServer(Infinity);
    server = flaky.server;
    client = new ParleyClient({
      host: '127.0.0.1',
      port: flaky.port,
      transport: 'tcp',
      reconnect: false,
      requestTimeoutMs: 400,
    });
    await client.connect();
    await expect(client.sendTo(2, 'hello')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(flaky.sends.length).toBeGreaterThan(1);
  });
});

describe('ParleyClient requests over the frame limit', () => {
  it('refuses a send larger than the server frame limit without sending it, and sends the next one', async () => {
    const flaky = await flakyServer(0);
    server = flaky.server;
    client = new ParleyClient({ host: '127.0.0.1', port: flaky.port, transport: 'tcp', reconnect: false });
    await client.connect();
    await expect(client.sendTo(2, 'x'.repeat(70_000))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    // Multi-byte text counts in bytes: 30 000 three-byte characters are over 64 KiB.
    await expect(client.sendTo(2, '€'.repeat(30_000))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await client.sendTo(2, 'small', 'cmid-small')).toBe(99);
    expect(flaky.sends.map((s) => s.cmid)).toEqual(['cmid-small']);
  });

  it('takes the limit from maxFrameBytes', async () => {
    const flaky = await flakyServer(0);
    server = flaky.server;
    client = new ParleyClient({
      host: '127.0.0.1',
      port: flaky.port,
      transport: 'tcp',
      reconnect: false,
      maxFrameBytes: 200,
    });
    await client.connect();
    await expect(client.sendTo(2, 'y'.repeat(200))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await client.sendTo(2, 'y'.repeat(20))).toBe(99);
  });
});
