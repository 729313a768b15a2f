/**
 * Callbacks a transport makes into its connection. `Connection` implements them itself (methods, not an
 * object of closures): an idle connection is held by thousands, so every object per connection counts.
 */
export interface TransportEvents {
  onFrame(text: string): void;
  /** An inbound frame exceeded the size limit; the transport delivers nothing more. */
  onOversize(): void;
  /** The outbound buffer drained. */
  onDrain(): void;
  /** The transport closed (either side); called once. */
  onClosed(): void;
}

/**
 * A bidirectional stream of JSON text frames. Knows bytes and framing, nothing of message meaning;
 * TCP (line/NUL/back-to-back framing) and WebSocket (one frame per message) implement it.
 */
export interface Transport {
  readonly kind: 'tcp' | 'ws';
  /** `ip:port` of the client (from a trusted PROXY header when there was one), for logs. */
  readonly remoteAddress: string;
  /** The client's IP, for per-address limits. */
  readonly remoteIp: string;
  start(events: TransportEvents): void;
  /**
   * Writes one frame; `onFlushed` runs once its bytes were handed to the OS. `alone`: the frame goes to
   * the OS now rather than with the other writes of this tick (a paced frame is written by itself anyway,
   * so holding it back to coalesce only adds latency).
   */
  write(text: string, onFlushed?: () => void, alone?: boolean): void;
  bufferedBytes(): number;
  pause(): void;
  resume(): void;
  /** Graceful close after pending writes. */
  end(): void;
  /** Immediate close. */
  destroy(): void;
  /**
   * Pad every outbound frame with NULs to exactly `bytes` when the peer itself ends its frames with NUL
   * (the ancestor's C++ client): it reads one `recv(1024)` at a time, so fixed-size frames stay aligned
   * even when several arrive in one read. 0 turns it off. A no-op where the transport frames messages.
   */
  setFrameAlignment(bytes: number): void;
}
