import type { BusEvent, InboxEntry, SessionOrigin } from './ports.js';

/**
 * What the service needs from one client connection: implemented by the protocol layer's ClientSession,
 * which knows how to encode a message for a v1 or v2 client.
 */
export interface SessionSink {
  /** The id of the session being attached; read once by `SessionRegistry.attach`. */
  readonly sessionId: string;
  /** Encodes and writes one inbox entry; onFlushed runs once the bytes were handed to the OS. */
  deliver(entry: InboxEntry, onFlushed?: () => void): void;
  /** False while the outbound buffer is above its high-water mark. */
  writable(): boolean;
  /** Resolves when the buffer drained below the high-water mark, or the connection closed. */
  waitWritable(): Promise<void>;
  readonly closed: boolean;
  /**
   * A newer session of the same user's device took over session `sessionId` (started by `by`, when known),
   * or the user logged out on every device (`everywhere`): tell the client (v2) and close — unless the
   * connection has moved on to another session meanwhile.
   */
  kick(sessionId: string, by?: SessionOrigin, everywhere?: boolean): void;
  /** A live notice for the user (a friend's presence, typing, a read marker): shown if the client can. */
  notify(event: Extract<BusEvent, { type: 'presence' | 'typing' | 'read' }>): void;
}
