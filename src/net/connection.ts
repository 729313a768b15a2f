import type { Transport } from './transport.js';

/** Byte and time bounds of one connection's channel. */
export interface ConnectionLimits {
  /** Outbound bytes that start the slow-consumer timer (and make `writable()` false). */
  readonly outboundHighWaterBytes: number;
  /** Outbound bytes that close the connection at once. */
  readonly outboundMaxBytes: number;
  /** Time above the high-water mark before the handler hears `SLOW_CONSUMER`. */
  readonly slowConsumerTimeoutMs: number;
  /** Inbound frames waiting for the handler at which the transport is paused. */
  readonly pauseAtQueued?: number;
  /** A closing connection that has not finished flushing by then is destroyed. */
  readonly closeTimeoutMs?: number;
}

/** Problems the channel detects itself; the handler decides what the client is told before the close. */
export type ChannelFault = 'PAYLOAD_TOO_LARGE' | 'SLOW_CONSUMER' | 'IDLE_TIMEOUT';

/** Label of a close: a fault, the handler's own reason, or CLIENT_CLOSED when the peer left. */
export type CloseReason = string;

/** What a connection calls into: the protocol session that owns meaning (`src/protocol/client-session.ts`). */
export interface ConnectionHandler {
  /**
   * A frame arrived. Runs synchronously on arrival, before queueing: returning false drops the frame
   * (the handler has answered it, e.g. over its rate limit). Admitted frames go to `handle`, one at a time.
   */
  admit(frame: string): boolean;
  /** One admitted frame; the next is handed over only after the returned promise settles. */
  handle(frame: string): Promise<void>;
  /** The channel detected a fault; the handler tells the client (or not) and closes. */
  fault(fault: ChannelFault): void;
  /** The connection closed (once). */
  disconnected(reason: CloseReason): void;
}

/** Explicit states, as `ws` names them. */
export const ConnectionState = { OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
type State = (typeof ConnectionState)[keyof typeof ConnectionState];

const DEFAULT_PAUSE_AT = 32;
const DEFAULT_CLOSE_TIMEOUT_MS = 2000;

/**
 * One client connection as a frame channel (what `ws` is for WebSocket): states, the inbound queue
 * with pause/resume, outbound byte caps with the slow-consumer timer, the close timeout, and an idle
 * timer it is told about. It knows nothing of what the frames mean.
 */
export class Connection {
  private state: State = ConnectionState.OPEN;
  private handler: ConnectionHandler | undefined;
  private readonly queue: string[] = [];
  private processing = false;
  private paused = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleTimeoutMs = 0;
  private slowTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private closeReason: CloseReason | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly limits: ConnectionLimits,
  ) {}

  get kind(): 'tcp' | 'ws' {
    return this.transport.kind;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  /** True once closing has begun (no more frames are handled or written). */
  get closed(): boolean {
    return this.state !== ConnectionState.OPEN;
  }

  get readyState(): State {
    return this.state;
  }

  /** Starts reading; every event from now on goes to `handler`. */
  start(handler: ConnectionHandler): void {
    this.handler = handler;
    this.transport.start({
      frame: (text) => this.onFrame(text),
      oversize: () => this.onFault('PAYLOAD_TOO_LARGE'),
      drain: () => this.onDrain(),
      closed: () => this.onTransportClosed(),
    });
  }

  /** Writes one frame; onFlushed runs once its bytes were handed to the OS. */
  write(frame: string, onFlushed?: () => void): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.transport.write(frame, onFlushed);
    const buffered = this.transport.bufferedBytes();
    if (buffered > this.limits.outboundMaxBytes) {
      // Nothing more can be told to a client this far behind.
      this.close('SLOW_CONSUMER', true);
    } else if (buffered > this.limits.outboundHighWaterBytes && !this.slowTimer) {
      this.slowTimer = setTimeout(() => this.onFault('SLOW_CONSUMER'), this.limits.slowConsumerTimeoutMs);
      this.slowTimer.unref();
    }
  }

  /** False while the outbound buffer is above its high-water mark, or once closing. */
  writable(): boolean {
    return (
      this.state === ConnectionState.OPEN &&
      this.transport.bufferedBytes() <= this.limits.outboundHighWaterBytes
    );
  }

  /** Resolves on drain below the high-water mark, or on close. */
  waitWritable(): Promise<void> {
    if (this.writable() || this.state !== ConnectionState.OPEN) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * The idle timeout: with `ms` > 0 the handler hears `IDLE_TIMEOUT` after that long without an inbound
   * frame; 0 turns it off. Setting the same value again keeps the running timer.
   */
  setIdleTimeout(ms: number): void {
    if (ms === this.idleTimeoutMs || this.state !== ConnectionState.OPEN) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.idleTimeoutMs = ms;
    if (ms > 0) {
      this.idleTimer = setTimeout(() => this.onFault('IDLE_TIMEOUT'), ms);
      this.idleTimer.unref();
    }
  }

  /** Idempotent. Graceful unless `immediately`; the transport is destroyed if flushing takes too long. */
  close(reason: CloseReason, immediately = false): void {
    if (this.state !== ConnectionState.OPEN) {
      if (immediately) this.transport.destroy();
      return;
    }
    this.state = ConnectionState.CLOSING;
    this.closeReason = reason;
    this.clearTimers();
    this.releaseWaiters();
    this.queue.length = 0;
    if (immediately) {
      this.transport.destroy();
      return;
    }
    this.transport.end();
    setTimeout(
      () => this.transport.destroy(),
      this.limits.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    ).unref();
  }

  private onFault(fault: ChannelFault): void {
    if (this.state !== ConnectionState.OPEN) return;
    this.handler?.fault(fault);
    // The handler normally closes; a fault is never left standing.
    this.close(fault);
  }

  private onFrame(text: string): void {
    const handler = this.handler;
    if (this.state !== ConnectionState.OPEN || !handler) return;
    this.idleTimer?.refresh();
    if (!handler.admit(text)) return;
    this.queue.push(text);
    if (this.queue.length >= (this.limits.pauseAtQueued ?? DEFAULT_PAUSE_AT) && !this.paused) {
      this.paused = true;
      this.transport.pause();
    }
    if (!this.processing) void this.processQueue(handler);
  }

  private async processQueue(handler: ConnectionHandler): Promise<void> {
    this.processing = true;
    try {
      for (
        let text = this.queue.shift();
        text !== undefined && this.state === ConnectionState.OPEN;
        text = this.queue.shift()
      ) {
        await handler.handle(text);
      }
    } catch {
      // The handler answers every request error itself; reaching here is a bug, not bad input.
      this.close('INTERNAL');
    } finally {
      this.processing = false;
      this.queue.length = 0;
    }
    if (this.paused && this.state === ConnectionState.OPEN) {
      this.paused = false;
      this.transport.resume();
    }
  }

  private onDrain(): void {
    if (this.slowTimer && this.transport.bufferedBytes() <= this.limits.outboundHighWaterBytes) {
      clearTimeout(this.slowTimer);
      this.slowTimer = undefined;
    }
    if (this.writable()) this.releaseWaiters();
  }

  private onTransportClosed(): void {
    if (this.state === ConnectionState.CLOSED) return;
    const reason = this.closeReason ?? 'CLIENT_CLOSED';
    this.state = ConnectionState.CLOSED;
    this.clearTimers();
    this.releaseWaiters();
    this.queue.length = 0;
    this.handler?.disconnected(reason);
  }

  private clearTimers(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.slowTimer);
    this.idleTimer = undefined;
    this.slowTimer = undefined;
    this.idleTimeoutMs = 0;
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
