import type { ErrorCode } from '../errors.js';

/** What the protocol layer needs from a connection (implemented in src/net). */
export interface Outbound {
  /** Serialises and writes one message; onFlushed runs once the bytes were handed to the OS. */
  send(message: Record<string, unknown>, onFlushed?: () => void): void;
  /** False while the outbound buffer is above its high-water mark. */
  writable(): boolean;
  /** Resolves on drain below the high-water mark, or on close. */
  waitWritable(): Promise<void>;
  readonly closed: boolean;
  /** Closes after what was already written; `reason` is one of the catalog codes (counted in metrics). */
  close(reason: ErrorCode | 'CLIENT_CLOSED'): void;
}
