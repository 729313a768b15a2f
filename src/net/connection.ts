import { AppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { ClientContext } from '../protocol/client-context.js';
import type { Dispatcher, RequestLimits } from '../protocol/dispatcher.js';
import { MsgId } from '../protocol/msgids.js';
import type { Outbound } from '../protocol/outbound.js';
import type { ChatServices } from '../service/chat-services.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Transport } from './transport.js';

export interface ConnectionLimits {
  readonly ratePerS: number;
  readonly rateBurst: number;
  readonly loginRatePerS: number;
  readonly loginBurst: number;
  readonly heartbeatTimeoutMs: number;
  readonly unauthTimeoutMs: number;
  readonly outboundHighWaterBytes: number;
  readonly outboundMaxBytes: number;
  readonly slowConsumerTimeoutMs: number;
}

export type CloseReason = ErrorCode | 'CLIENT_CLOSED';

/** Pause reading while this many frames wait; the token bucket bounds the queue at RATE_BURST. */
const PAUSE_AT = 32;
/** A closing connection that has not finished flushing by then is destroyed. */
const CLOSE_TIMEOUT_MS = 2000;

type State = 'open' | 'closing' | 'closed';

/**
 * One client connection: serial request processing with backpressure on the transport, rate limits,
 * idle/heartbeat timeout, and a bounded outbound buffer with a slow-consumer cut-off.
 */
export class Connection implements Outbound {
  readonly context: ClientContext;
  private state: State = 'open';
  private readonly queue: string[] = [];
  private processing = false;
  private paused = false;
  private readonly requests: TokenBucket;
  private readonly logins: TokenBucket;
  private floodWindowStart = 0;
  private floodRejections = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleTimeoutMs = 0;
  private slowTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private closeReason: CloseReason | undefined;
  /** The rate limit is taken per frame on arrival (onFrame), so the dispatcher's check always passes. */
  private readonly requestLimits: RequestLimits = {
    takeRequest: () => true,
    takeAuthAttempt: () => this.logins.take(),
  };

  constructor(
    private readonly transport: Transport,
    private readonly dispatcher: Dispatcher,
    private readonly services: ChatServices,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly onClosed: (connection: Connection, reason: CloseReason) => void,
  ) {
    this.context = new ClientContext(this, services, logger);
    this.requests = new TokenBucket(limits.ratePerS, limits.rateBurst, services.clock);
    this.logins = new TokenBucket(limits.loginRatePerS, limits.loginBurst, services.clock);
  }

  get kind(): 'tcp' | 'ws' {
    return this.transport.kind;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  start(): void {
    this.transport.start({
      frame: (text) => this.onFrame(text),
      oversize: () => this.fail(new AppError('PAYLOAD_TOO_LARGE')),
      drain: () => this.onDrain(),
      closed: () => this.onTransportClosed(),
    });
    this.updateIdleTimer();
  }

  send(message: Record<string, unknown>, onFlushed?: () => void): void {
    if (this.state === 'closed') return;
    this.transport.write(JSON.stringify(message), onFlushed);
    const buffered = this.transport.bufferedBytes();
    if (buffered > this.limits.outboundMaxBytes) {
      this.logger.warn({ buffered }, 'outbound buffer over its hard cap; closing');
      this.close('SLOW_CONSUMER', true);
    } else if (buffered > this.limits.outboundHighWaterBytes && !this.slowTimer) {
      this.slowTimer = setTimeout(
        () => this.fail(new AppError('SLOW_CONSUMER')),
        this.limits.slowConsumerTimeoutMs,
      );
      this.slowTimer.unref();
    }
  }

  writable(): boolean {
    return this.state === 'open' && this.transport.bufferedBytes() <= this.limits.outboundHighWaterBytes;
  }

  waitWritable(): Promise<void> {
    if (this.writable() || this.state !== 'open') return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Idempotent. Graceful unless `immediately`; the transport is destroyed if flushing takes too long. */
  close(reason: CloseReason, immediately = false): void {
    if (this.state !== 'open') {
      if (immediately) this.transport.destroy();
      return;
    }
    this.state = 'closing';
    this.closeReason = reason;
    this.clearTimers();
    this.releaseWaiters();
    if (immediately) {
      this.transport.destroy();
      return;
    }
    this.transport.end();
    setTimeout(() => this.transport.destroy(), CLOSE_TIMEOUT_MS).unref();
  }

  /** Shutdown: tell v2 clients to reconnect elsewhere (with jitter), then close. */
  drain(reconnectInMs: number): void {
    if (this.state !== 'open') return;
    if (this.context.version === 2) {
      const error = new AppError('SERVER_DRAINING');
      this.send({
        msgid: MsgId.SERVER_NOTICE,
        errno: error.errno,
        code: error.code,
        errmsg: error.message,
        reconnectInMs,
      });
    }
    this.close('SERVER_DRAINING');
  }

  private fail(error: AppError): void {
    if (this.state !== 'open') return;
    this.context.fail(error, undefined, undefined);
    if (!error.closesConnection) return;
    this.close(error.code);
  }

  private onFrame(text: string): void {
    if (this.state !== 'open') return;
    this.idleTimer?.refresh();
    if (!this.requests.take()) {
      this.reject(text);
      return;
    }
    this.queue.push(text);
    if (this.queue.length >= PAUSE_AT && !this.paused) {
      this.paused = true;
      this.transport.pause();
    }
    if (!this.processing) void this.processQueue();
  }

  /** Over the rate limit: the frame is dropped with an error reply; a sustained flood closes the connection. */
  private reject(text: string): void {
    const now = this.services.clock.now();
    if (now - this.floodWindowStart > 1000) {
      this.floodWindowStart = now;
      this.floodRejections = 0;
    }
    if (++this.floodRejections > this.limits.rateBurst) {
      this.fail(new AppError('FLOODING'));
      return;
    }
    const msgid = peekField(text, 'msgid');
    this.context.fail(
      new AppError('RATE_LIMITED'),
      typeof msgid === 'number' ? msgid : undefined,
      peekField(text, 'reqId'),
    );
  }

  private async processQueue(): Promise<void> {
    this.processing = true;
    const limits = this.requestLimits;
    try {
      for (
        let text = this.queue.shift();
        text !== undefined && this.state === 'open';
        text = this.queue.shift()
      ) {
        await this.dispatcher.handleFrame(this.context, limits, text);
        this.updateIdleTimer();
      }
    } catch (error) {
      // The dispatcher answers every request error itself; reaching here is a bug, not bad input.
      this.logger.error({ err: error }, 'frame processing failed');
      this.close('INTERNAL');
    } finally {
      this.processing = false;
      this.queue.length = 0;
    }
    if (this.paused && this.state === 'open') {
      this.paused = false;
      this.transport.resume();
    }
  }

  /** Unauthenticated and v2 connections must show traffic; v1 clients have no heartbeat (TCP keep-alive). */
  private updateIdleTimer(): void {
    const context = this.context;
    const wanted = !context.user
      ? this.limits.unauthTimeoutMs
      : context.version === 2
        ? this.limits.heartbeatTimeoutMs
        : 0;
    if (wanted === this.idleTimeoutMs) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.idleTimeoutMs = wanted;
    if (wanted > 0) {
      this.idleTimer = setTimeout(() => this.fail(new AppError('IDLE_TIMEOUT')), wanted);
      this.idleTimer.unref();
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
    if (this.state === 'closed') return;
    const reason = this.closeReason ?? 'CLIENT_CLOSED';
    this.state = 'closed';
    this.clearTimers();
    this.releaseWaiters();
    this.context
      .endSession()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'ending the session failed'));
    this.onClosed(this, reason);
  }

  private clearTimers(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.slowTimer);
    this.idleTimer = undefined;
    this.slowTimer = undefined;
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Best-effort read of one top-level field of a frame, for error replies to frames that are not processed. */
function peekField(text: string, field: 'msgid' | 'reqId'): number | string | undefined {
  if (text.length > 4096) return undefined;
  try {
    const value = (JSON.parse(text) as Record<string, unknown> | null)?.[field];
    return typeof value === 'number' || typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
