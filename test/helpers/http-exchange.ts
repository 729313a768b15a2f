import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** One HTTP response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * A raw HTTP/1.x client connection that reads responses as they come: Content-Length bodies, bodies
 * that run to the close (no length, not chunked), 1xx responses kept.
 */
export class RawHttpConnection {
  private buffer = Buffer.alloc(0);
  private readonly ready: RawResponse[] = [];
  private readonly waiters: (() => void)[] = [];
  private isClosed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse(false);
    });
    socket.on('close', () => {
      this.parse(true);
      this.isClosed = true;
      this.wake();
    });
    // A server may reset a connection it gave up on; what was read before still counts.
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawHttpConnection> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawHttpConnection(socket);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response, or undefined once the server closed the connection without another. */
  async next(): Promise<RawResponse | undefined> {
    for (;;) {
      const response = this.ready.shift();
      if (response) return response;
      if (this.isClosed) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The next response with a final status (≥ 200), with the 1xx ones before it. */
  async nextFinal(): Promise<RawResponse[]> {
    const responses: RawResponse[] = [];
    for (let r = await this.next(); r; r = await this.next()) {
      responses.push(r);
      if (r.status >= 200) break;
    }
    return responses;
  }

  /** Resolves once the server closed the connection. */
  async waitClosed(): Promise<void> {
    while (!this.isClosed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private parse(atClose: boolean): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) break;
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      const status = Number(statusLine.split(' ')[1]);
      const start = end + 4;
      let bodyEnd: number;
      if (status < 200 || status === 204 || status === 304) bodyEnd = start;
      else if (headers['content-length'] !== undefined) bodyEnd = start + Number(headers['content-length']);
      else if (atClose) bodyEnd = this.buffer.length;
      else break;
      if (this.buffer.length < bodyEnd) break;
      this.ready.push({ status, headers, body: this.buffer.subarray(start, bodyEnd).toString('utf8') });
      this.buffer = this.buffer.subarray(bodyEnd);
    }
    this.wake();
  }
}
