/**
 * The bare v1 relay (benchmark ceiling, not a server): v1 sign-up, login and chat (msgid 6, and 10 to
 * groups joined with msgid 9) forwarded within the process — no storage, no Redis, no limits. Two of
 * them behind the cluster's nginx template are about the best any Node server can do through nginx on
 * the box. A recipient on the other relay is reached over one direct TCP link between the two (the
 * cheapest possible node-to-node hop), so "any pairing" workloads run on it unchanged.
 *
 *   node --import tsx bench/lib/v1-relay.ts <index> <chatPort> <linkPort> listen|connect [pad]
 *
 * `pad`: every frame to a user is padded with NULs to 1024 bytes, as Parley does for NUL-ending (original)
 * clients — the same bytes on the wire, to see what the padding costs nginx and the load generator.
 */
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Splits buffered text into whole frames (NUL- or newline-ended); drops nginx's PROXY header line. */
export function takeFrames(buffered: string): { frames: string[]; rest: string } {
  const parts = buffered.split(/[\0\n]/);
  const rest = parts.pop()!;
  return { frames: parts.filter((f) => f.trim() !== '' && !f.startsWith('PROXY ')), rest };
}

/** A user id unique across relays: relay `index` (1-based) of `count` hands out index, index+count, … */
export function relayUserId(index: number, count: number, serial: number): number {
  return serial * count + index;
}

/** A frame as written to a user: NUL-ended, or NUL-padded to 1024 bytes (`pad`). */
export function userFrame(frame: string, pad: boolean): string {
  return pad && Buffer.byteLength(frame) < 1024
    ? frame + '\0'.repeat(1024 - Buffer.byteLength(frame))
    : `${frame}\0`;
}

function main([index, chatPort, linkPort, role, mode]: string[]): void {
  const pad = mode === 'pad';
  const users = new Map<number, Socket>();
  const groups = new Map<number, Set<number>>();
  let serial = 0;
  let link: Socket | undefined;
  const deliver = (to: number, frame: string, mayForward: boolean) => {
    const socket = users.get(to);
    if (socket) socket.write(userFrame(frame, pad));
    else if (mayForward) link?.write(`${to} ${frame}\n`);
  };
  const onLink = (socket: Socket) => {
    link = socket.setNoDelay(true);
    let rest = '';
    socket.on('data', (chunk: Buffer) => {
      const taken = takeFrames(rest + chunk.toString());
      rest = taken.rest;
      for (const line of taken.frames)
        deliver(Number(line.slice(0, line.indexOf(' '))), line.slice(line.indexOf(' ') + 1), false);
    });
  };
  if (role === 'listen') createServer(onLink).listen(Number(linkPort), '127.0.0.1');
  else onLink(connect(Number(linkPort), '127.0.0.1'));
  createServer((socket) => {
    socket.setNoDelay(true);
    let rest = '';
    let me = 0;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => users.get(me) === socket && users.delete(me));
    socket.on('data', (chunk: Buffer) => {
      const taken = takeFrames(rest + chunk.toString());
      rest = taken.rest;
      for (const frame of taken.frames) {
        const js = JSON.parse(frame) as {
          msgid: number;
          id?: number;
          toid?: number;
          groupid?: number;
          name?: string;
        };
        if (js.msgid === 4)
          socket.write(
            `${JSON.stringify({ errno: 0, id: relayUserId(Number(index), 2, serial++), msgid: 5 })}\0`,
          );
        else if (js.msgid === 1) {
          users.set((me = js.id!), socket);
          socket.write(
            `${JSON.stringify({ errno: 0, id: me, msgid: 2, name: `u${me}`, node: `relay-${index}` })}\0`,
          );
        } else if (js.msgid === 6) deliver(js.toid!, frame, true);
        else if (js.msgid === 9) groups.set(js.groupid!, (groups.get(js.groupid!) ?? new Set()).add(me));
        else if (js.msgid === 10)
          for (const id of groups.get(js.groupid!) ?? []) if (id !== me) deliver(id, frame, false);
      }
    });
  }).listen(Number(chatPort), '127.0.0.1', () => console.log(`relay-${index} listening`));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
