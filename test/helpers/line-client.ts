import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export type Frame = Record<string, unknown>;

/**
 * A raw TCP client for protocol tests: writes exact bytes, collects every newline-delimited JSON object
 * the server sends, and lets a test await the next frame matching a predicate (never a sleep).
 */
export class LineClient {
  readonly frames: Frame[] = [];
  private buffer = '';
  private cursor = 0;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private closedPromise: Promise<void>;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /** Plain TCP, or TLS with `tls` (resolving once the handshake verified the server). */
  static open(port: number, host = '127.0.0.1', tls?: ConnectionOptions): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = tls ? tlsConnect({ port, host, ...tls }) : connect({ port, host });
      socket.setNoDelay(true);
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** A client on a socket made elsewhere (e.g. TLS after a PROXY header written by the test). */
  static fromSocket(socket: Socket): LineClient {
    return new LineClient(socket);
  }

  /** Sends an object the way the ancestor C++ client does: JSON followed by a NUL byte. */
  sendNul(frame: Frame): void {
    this.socket.write(`${JSON.stringify(frame)}\0`);
  }

  sendLine(frame: Frame): void {
    this.socket.write(`${JSON.stringify(frame)}\n`);
  }

  write(raw: string | Buffer): void {
    this.socket.write(raw);
  }

  /** Resolves with the next not-yet-consumed frame that matches (frames before it stay available). */
  next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    for (let i = this.cursor; i < this.frames.length; i++) {
      const frame = this.frames[i]!;
      if (match(frame)) {
        this.frames.splice(i, 1);
        return Promise.resolve(frame);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: Frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Waits for a frame with this msgid. */
  nextOf(msgid: number, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.msgid === msgid, timeoutMs);
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return Promise.race([
      this.closedPromise,
      new Promise<void>((_, reject) =>
        setTimeout(() => reject(new Error('socket did not close')), timeoutMs).unref(),
      ),
    ]);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Frames end in a newline, or (to a client that sends NUL-terminated requests) in NUL padding. */
  private onData(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.search(/[\n\0]/)) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      if (line.length === 0) continue;
      const frame = JSON.parse(line) as Frame;
      const waiter = this.waiters.find((w) => w.match(frame));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    }
  }
}
