import { createServer, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { ParleyClient, type ChatMessage } from '../../src/client/parley-client.js';

const delivery = (seq: number) => ({
  msgid: 6,
  id: 2,
  name: 'bob',
  toid: 1,
  msg: `m${seq}`,
  time: '',
  mid: 100 + seq,
  ts: 0,
  seq,
});

/** LOGIN_ACK (2) or RESUME_ACK (21) for alice, whose inbox ends at seq 3. */
const sessionAck = (msgid: number, reqId: unknown, ackedSeq: number) => ({
  msgid,
  reqId,
  errno: 0,
  id: 1,
  name: 'alice',
  v: 2,
  token: 't',
  ackedSeq,
  lastSeq: 3,
});

it('never skips a hole in the pushed sequence: it drops the link and resumes from its last seq', async () => {
  const resumes: number[] = [];
  let connections = 0;
  // A scripted server: login, then seq 1 and seq 3 (a hole); on the resume it replays from lastSeq.
  const server = createServer((socket: Socket) => {
    connections++;
    let buffer = '';
    const send = (frame: object) => socket.write(`${JSON.stringify(frame)}\n`);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const frame = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        if (frame.msgid === 1) {
          send(sessionAck(2, frame.reqId, 0));
          send(delivery(1));
          send(delivery(3));
        } else if (frame.msgid === 20) {
          resumes.push(frame.lastSeq as number);
          send(sessionAck(21, frame.reqId, 1));
          send(delivery(2));
          send(delivery(3));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = new ParleyClient({
    host: '127.0.0.1',
    port,
    transport: 'tcp',
    backoffMinMs: 10,
    backoffMaxMs: 20,
  });
  try {
    const seen: number[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (m: ChatMessage) => (seen.push(m.seq), seen.length === 3 && resolve())),
    );
    await client.connect();
    await client.login({ name: 'alice' }, 'pw');
    await all;
    expect(seen).toEqual([1, 2, 3]);
    expect(resumes).toEqual([1]);
    expect(client.gapsRepaired).toBe(1);
    expect(connections).toBe(2);
  } finally {
    client.close();
    server.close();
  }
});
