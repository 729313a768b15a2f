import type { InboxEntry, SessionOrigin } from './ports.js';

/**
 * What the service needs from one client connection: implemented by the protocol layer, which knows
 * how to encode a message for a v1 or v2 client.
 */
export interface SessionSink {
  readonly sessionId: string;
  /** Encodes and writes one inbox entry; onFlushed runs once the bytes were handed to the OS. */
  deliver(entry: InboxEntry, onFlushed?: () => void): void;
  /** False while the outbound buffer is above its high-water mark. */
  writable(): boolean;
  /** Resolves when the buffer drained below the high-water mark, or the connection closed. */
  waitWritable(): Promise<void>;
  readonly closed: boolean;
  /** A newer session of the same user took over (started by `by`, when known): tell the client (v2) and close. */
  kick(by?: SessionOrigin): void;
}
