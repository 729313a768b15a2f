import { Buffer } from 'node:buffer';
import { IdleTimers, type IdleWatched } from './idle-timers.js';
import type { Transport, TransportEvents } from './transport.js';

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
  /** While paced: frames waiting for their turn at which `writable()` turns false. */
  readonly pacedQueueFrames?: number;
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
const DEFAULT_PACED_QUEUE_FRAMES = 16;

interface PacedFrame {
  readonly frame: string;
  readonly onFlushed: (() => void) | undefined;
}

/** Who is told when a connection closed (the server's bookkeeping). */
export interface ConnectionOwner {
  connectionClosed(connection: Connection, reason: CloseReason): void;
}

/**
 * One client connection as a frame channel (what `ws` is for WebSocket): states, the inbound queue
 * with pause/resume, outbound byte caps with the slow-consumer timer, the close timeout, and an idle
 * timer it is told about. It knows nothing of what the frames mean.
 */
export class Connection implements TransportEvents, IdleWatched {
  private state: State = ConnectionState.OPEN;
  private handler: ConnectionHandler | undefined;
  /** The owner's close hook (the server's bookkeeping), run just before the handler hears of the close. */
  private owner: ConnectionOwner | undefined;
  private readonly queue: string[] = [];
  private processing = false;
  private paused = false;
  private idleTimeoutMs = 0;
  private slowTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private closeReason: CloseReason | undefined;
  private pacingGapMs = 0;
  private readonly paced: PacedFrame[] = [];
  private pacedBytes = 0;
  /** A paced frame is on its way (written, or waiting out its gap): the next one waits. */
  private pacedBusy = false;
  private pacingTimer: NodeJS.Timeout | undefined;
  /** Paced frames written, and the most that ever waited at once (for metrics). */
  readonly pacingStats = { frames: 0, maxQueued: 0 };

  constructor(
    private readonly transport: Transport,
    private readonly limits: ConnectionLimits,
    /** Shared by the server's connections (one timer for all); a connection alone gets its own. */
    private readonly idleTimers: IdleTimers = new IdleTimers(),
  ) {}

  get kind(): 'tcp' | 'ws' {
    return this.transport.kind;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  /** The client's IP (the real one behind a trusted load balancer's PROXY header). */
  get remoteIp(): string {
    return this.transport.remoteIp;
  }

  /** True once closing has begun (no more frames are handled or written). */
  get closed(): boolean {
    return this.state !== ConnectionState.OPEN;
  }

  get readyState(): State {
    return this.state;
  }

  /**
   * Starts reading; every event from now on goes to `handler`, and `owner.connectionClosed` (if given)
   * runs once when the connection closed, before `handler.disconnected`. An object, not a closure: the
   * server passes itself, so nothing is allocated per connection for it.
   */
  start(handler: ConnectionHandler, owner?: ConnectionOwner): void {
    this.handler = handler;
    this.owner = owner;
    this.transport.start(this);
  }

  /** Writes one frame; onFlushed runs once its bytes were handed to the OS. */
  write(frame: string, onFlushed?: () => void): void {
    if (this.state === ConnectionState.CLOSED) return;
    if (this.pacingGapMs > 0) {
      this.paced.push({ frame, onFlushed });
      this.pacedBytes += Buffer.byteLength(frame, 'utf8');
      if (this.paced.length > this.pacingStats.maxQueued) this.pacingStats.maxQueued = this.paced.length;
      if (!this.pacedBusy) this.writeNextPaced();
    } else {
      this.transport.write(frame, onFlushed);
    }
    this.checkOutbound();
  }

  /**
   * Pacing, for clients that read one frame per `recv()` and cannot split two (the ancestor's C++
   * client): each frame is written alone, and the next only after the previous was handed to the OS and
   * `gapMs` more passed, so the peer's reader has had its chance to read it. 0 turns pacing off and
   * writes whatever waits at once.
   */
  setPacing(gapMs: number): void {
    this.pacingGapMs = gapMs;
    if (gapMs > 0) return;
    clearTimeout(this.pacingTimer);
    this.pacingTimer = undefined;
    this.pacedBusy = false;
    for (const { frame, onFlushed } of this.paced.splice(0)) this.transport.write(frame, onFlushed);
    this.pacedBytes = 0;
  }

  private writeNextPaced(): void {
    // A fired timer is not kept: an idle connection should hold no Timeout.
    this.pacingTimer = undefined;
    const next = this.paced.shift();
    // Drained: `length = 0` gives back the backing store that shift() keeps (~0.2–0.5 KB per idle v1
    // connection after its login burst).
    if (this.paced.length === 0) this.paced.length = 0;
    if (!next || this.state === ConnectionState.CLOSED) {
      this.pacedBusy = false;
      if (this.state === ConnectionState.CLOSING) this.transport.end();
      return;
    }
    this.pacedBusy = true;
    this.pacedBytes -= Buffer.byteLength(next.frame, 'utf8');
    this.pacingStats.frames++;
    this.transport.write(
      next.frame,
      () => {
        next.onFlushed?.();
        this.pacingTimer = setTimeout(() => this.writeNextPaced(), this.pacingGapMs);
      },
      true,
    );
    if (this.paced.length < (this.limits.pacedQueueFrames ?? DEFAULT_PACED_QUEUE_FRAMES)) this.onDrain();
  }

  /** See `Transport.setFrameAlignment`: fixed-size NUL-padded frames for a NUL-framing peer. */
  setFrameAlignment(bytes: number): void {
    this.transport.setFrameAlignment(bytes);
  }

  /** Outbound bytes not yet handed to the OS: the transport's buffer plus frames waiting for their turn. */
  bufferedBytes(): number {
    return this.transport.bufferedBytes() + this.pacedBytes;
  }

  private checkOutbound(): void {
    const buffered = this.bufferedBytes();
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
      this.bufferedBytes() <= this.limits.outboundHighWaterBytes &&
      this.paced.length < (this.limits.pacedQueueFrames ?? DEFAULT_PACED_QUEUE_FRAMES)
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
    this.stopIdleTimer();
    this.idleTimeoutMs = ms;
    if (ms > 0) this.idleTimers.start(this, ms);
  }

  /** IdleWatched: the idle timeout ran out. */
  idleExpired(): void {
    this.idleTimeoutMs = 0;
    this.onFault('IDLE_TIMEOUT');
  }

  private stopIdleTimer(): void {
    if (this.idleTimeoutMs > 0) this.idleTimers.stop(this, this.idleTimeoutMs);
    this.idleTimeoutMs = 0;
  }

  /**
   * A deadline: with `ms` > 0 the handler hears `IDLE_TIMEOUT` that long from now whatever the traffic
   * (unlike the idle timeout, frames do not push it back); 0 clears it.
   */
  setDeadline(ms: number): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (ms <= 0 || this.state !== ConnectionState.OPEN) return;
    this.deadlineTimer = setTimeout(() => this.onFault('IDLE_TIMEOUT'), ms);
    this.deadlineTimer.unref();
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
    setTimeout(
      () => this.transport.destroy(),
      this.limits.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    ).unref();
    // A paced connection ends once its waiting frames went out, still one at a time (the last is often
    // the error that explains the close); the close timeout bounds that.
    if (this.pacedBusy) return;
    this.transport.end();
  }

  private onFault(fault: ChannelFault): void {
    if (this.state !== ConnectionState.OPEN) return;
    this.handler?.fault(fault);
    // The handler normally closes; a fault is never left standing.
    this.close(fault);
  }

  /** Transport callback: an inbound frame. */
  onFrame(text: string): void {
    const handler = this.handler;
    if (this.state !== ConnectionState.OPEN || !handler) return;
    if (this.idleTimeoutMs > 0) this.idleTimers.touch(this, this.idleTimeoutMs);
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

  /** Transport callback: an inbound frame was too large; nothing more is read. */
  onOversize(): void {
    this.onFault('PAYLOAD_TOO_LARGE');
  }

  /** Transport callback: the outbound buffer drained. */
  onDrain(): void {
    if (this.slowTimer && this.bufferedBytes() <= this.limits.outboundHighWaterBytes) {
      clearTimeout(this.slowTimer);
      this.slowTimer = undefined;
    }
    if (this.writable()) this.releaseWaiters();
  }

  /** Transport callback: the transport closed (either side). */
  onClosed(): void {
    if (this.state === ConnectionState.CLOSED) return;
    const reason = this.closeReason ?? 'CLIENT_CLOSED';
    this.state = ConnectionState.CLOSED;
    this.clearTimers();
    this.releaseWaiters();
    this.queue.length = 0;
    // Paced frames not yet written are dropped: their onFlushed never runs, so nothing counts them delivered.
    clearTimeout(this.pacingTimer);
    this.paced.length = 0;
    this.pacedBytes = 0;
    this.owner?.connectionClosed(this, reason);
    this.handler?.disconnected(reason);
  }

  private clearTimers(): void {
    this.stopIdleTimer();
    clearTimeout(this.slowTimer);
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.slowTimer = undefined;
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
