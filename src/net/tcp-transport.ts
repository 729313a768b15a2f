import type { Socket } from 'node:net';
import { FrameDecoder, FrameTooLargeError } from './frame-decoder.js';
import type { Transport, TransportEvents } from './transport.js';

/** JSON over raw TCP: inbound through FrameDecoder, outbound one object per line. */
export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  readonly remoteAddress: string;
  private readonly decoder: FrameDecoder;
  private events: TransportEvents | undefined;
  private failed = false;
  private corked = false;

  constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
    /** Bytes already read while sniffing the protocol. */
    private readonly firstChunk: Buffer,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  start(events: TransportEvents): void {
    this.events = events;
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => events.drain());
    this.socket.on('error', () => {
      // 'close' follows every 'error'; the reason (usually ECONNRESET) is not the peer's business.
    });
    this.socket.once('close', () => events.closed());
    this.onData(this.firstChunk);
  }

  write(text: string, onFlushed?: () => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    // Writes within one tick go out as one writev: under load a reply and several deliveries share a syscall.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(`${text}\n`, onFlushed && ((error) => !error && onFlushed()));
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
    const events = this.events;
    try {
      this.decoder.push(chunk, (frame) => events.frame(frame));
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.failed = true;
      this.socket.pause();
      events.oversize();
    }
  }
}
