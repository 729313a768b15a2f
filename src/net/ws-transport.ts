import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import type { Peer } from './proxy-header.js';
import type { Transport, TransportEvents } from './transport.js';

/** JSON over WebSocket: one text message is one frame; ws enforces the size limit (close code 1009). */
export class WsTransport implements Transport {
  readonly kind = 'ws';
  readonly remoteAddress: string;
  readonly remoteIp: string;

  constructor(
    private readonly ws: WebSocket,
    /** The upgraded TCP socket, for drain events (ws has none of its own). */
    private readonly socket: Socket,
    peer: Peer,
  ) {
    this.remoteIp = peer.ip;
    this.remoteAddress = `${peer.ip}:${peer.port}`;
  }

  start(events: TransportEvents): void {
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : rawToString(data);
      events.onFrame(text.trim());
    });
    this.ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') events.onOversize();
    });
    this.socket.on('drain', () => events.onDrain());
    this.ws.on('close', () => events.onClosed());
  }

  write(text: string, onFlushed?: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(text, onFlushed && ((error) => !error && onFlushed()));
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }

  setFrameAlignment(): void {
    // WebSocket messages are delimited by the protocol; nothing to align.
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
