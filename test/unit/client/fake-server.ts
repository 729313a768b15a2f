import { createServer, type Server, type Socket } from 'node:net';
import type { ClientTimers } from '../../../src/client/typing-state.js';

type Frame = Record<string, unknown>;
/**
 * Answers one request: the reply frames to write (the request's reqId is added), or none. Pushed frames
 * (deliveries) go through `connection.write` instead.
 */
type Answer = (frame: Frame, connection: FakeConnection) => Frame[] | Frame | undefined;

/** One client connection to the fake server. */
export class FakeConnection {
  constructor(readonly socket: Socket) {}
  write(frame: Frame): void {
    this.socket.write(`${JSON.stringify(frame)}\n`);
  }
}

/**
 * A scripted Parley server on a real port-0 TCP socket, for client-library unit tests: answers LOGIN,
 * REG, RESUME and PING like a v2 node (friends with presence in the login reply), ACKs anything else unless
 * a test set an answer, records every frame, and pushes frames on demand.
 */
export class FakeServer {
  readonly received: Frame[] = [];
  readonly connections: FakeConnection[] = [];
  private readonly answers = new Map<number, Answer>();
  private waiters: (() => void)[] = [];
  /** The login reply's `friends` (v2 with presence). */
  friends: Frame[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeServer> {
    const accept: { to?: FakeServer } = {};
    const server = createServer((socket) => accept.to!.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    accept.to = new FakeServer(server, (server.address() as { port: number }).port);
    return accept.to;
  }

  /** Replaces the default answer to one request type. */
  answer(msgid: number, answer: Answer): void {
    this.answers.set(msgid, answer);
  }

  /** Writes a frame to the newest connection. */
  push(frame: Frame): void {
    this.connections.at(-1)!.write(frame);
  }

  /** Frames received of one msgid so far. */
  frames(msgid: number): Frame[] {
    return this.received.filter((frame) => frame.msgid === msgid);
  }

  /** Resolves with the `count`-th frame of this msgid once it has arrived. */
  async nth(msgid: number, count = 1): Promise<Frame> {
    for (;;) {
      const found = this.frames(msgid)[count - 1];
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Cuts every connection, as a failed network would. */
  cut(): void {
    for (const connection of this.connections.splice(0)) connection.socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const connection = new FakeConnection(socket);
    this.connections.push(connection);
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const frame = JSON.parse(buffer.slice(0, end)) as Frame;
        buffer = buffer.slice(end + 1);
        this.received.push(frame);
        this.reply(frame, connection);
        for (const wake of this.waiters.splice(0)) wake();
      }
    });
  }

  private reply(frame: Frame, connection: FakeConnection): void {
    const msgid = frame.msgid as number;
    const custom = this.answers.get(msgid);
    const replies = custom ? custom(frame, connection) : this.standard(frame);
    for (const reply of [replies ?? []].flat())
      connection.write(frame.reqId === undefined ? reply : { reqId: frame.reqId, ...reply });
  }

  private standard(frame: Frame): Frame | undefined {
    const session = {
      errno: 0,
      id: 1,
      name: 'alice',
      v: 2,
      device: frame.device,
      token: 'token-1',
      ackedSeq: 0,
      lastSeq: 0,
    };
    switch (frame.msgid) {
      case 1:
        return { msgid: 2, ...session, reset: false, friends: this.friends };
      case 4:
        return { msgid: 5, errno: 0, id: 1, name: frame.name };
      case 20:
        return { msgid: 21, ...session, friends: this.friends };
      case 15:
        return frame.reqId === undefined ? undefined : { msgid: 12, re: 15, seq: frame.seq };
      case 18:
        return { msgid: 19, ts: 0 };
      default:
        return { msgid: 12, re: frame.msgid };
    }
  }
}

/** Timers and a clock that move only when told to. */
export class ManualTimers implements ClientTimers {
  now = 1_790_000_000_000;
  private readonly due = new Map<number, { at: number; callback: () => void }>();
  private nextHandle = 1;

  readonly clock = { now: () => this.now };

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.due.set(handle, { at: this.now + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** Moves time on, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined || next[1].at > until) break;
      this.due.delete(next[0]);
      this.now = next[1].at;
      next[1].callback();
    }
    this.now = until;
  }

  get pending(): number {
    return this.due.size;
  }
}
