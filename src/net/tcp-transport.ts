import type { Socket } from 'node:net';
import { FrameDecoder, FrameTooLargeError } from './frame-decoder.js';
import type { Peer } from './proxy-header.js';
import type { Transport, TransportEvents } from './transport.js';

/** JSON over raw TCP: inbound through FrameDecoder, outbound one object per line. */
export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  readonly remoteAddress: string;
  readonly remoteIp: string;
  private readonly decoder: FrameDecoder;
  private events: TransportEvents | undefined;
  private failed = false;
  private corked = false;
  /** Set once the peer sent a NUL byte: it frames with NUL, as the ancestor's client does. */
  private peerNulFramed = false;
  private alignTo = 0;

  constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
    /** Bytes already read while sniffing the protocol (dropped once handed to the decoder). */
    private firstChunk: Buffer | undefined,
    peer: Peer,
  ) {
    this.remoteIp = peer.ip;
    this.remoteAddress = `${peer.ip}:${peer.port}`;
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  start(events: TransportEvents): void {
    this.events = events;
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => events.onDrain());
    // The server already listens for errors on its sockets; a second listener would cost an array.
    if (this.socket.listenerCount('error') === 0) this.socket.on('error', ignoreSocketError);
    // 'close' is emitted once: `on` spares the wrapper objects `once` makes per listener.
    this.socket.on('close', () => events.onClosed());
    const first = this.firstChunk!;
    this.firstChunk = undefined;
    this.onData(first);
  }

  write(text: string, onFlushed?: () => void, alone = false): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    // Writes within one tick go out as one writev: under load a reply and several deliveries share a syscall.
    // A frame written alone skips that (unless this tick's writes are already held): the cork is released
    // only after the whole tick's work, which on a delivery's path is ~50–80 µs (docs/BENCHMARKS.md, W3).
    if (!this.corked && !alone) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(this.frameBytes(text), onFlushed && ((error) => !error && onFlushed()));
  }

  setFrameAlignment(bytes: number): void {
    this.alignTo = bytes;
  }

  /** One frame on the wire: a line, or (for a NUL-framing peer, when aligned) the JSON NUL-padded to size. */
  private frameBytes(text: string): string | Buffer {
    if (this.alignTo === 0 || !this.peerNulFramed) return `${text}\n`;
    // The JSON must leave room for at least one NUL, which ends the peer's parse; longer cannot be aligned.
    if (Buffer.byteLength(text, 'utf8') >= this.alignTo) return `${text}\0`;
    const frame = Buffer.alloc(this.alignTo);
    frame.write(text, 'utf8');
    return frame;
  }

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.failed) this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.failed || !this.events) return;
    if (!this.peerNulFramed && chunk.includes(0)) this.peerNulFramed = true;
    const events = this.events;
    try {
      this.decoder.push(chunk, (frame) => events.onFrame(frame));
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.failed = true;
      this.socket.pause();
      events.onOversize();
    }
  }
}

/** 'close' follows every 'error'; the reason (usually ECONNRESET) is not the peer's business. */
function ignoreSocketError(): void {}
