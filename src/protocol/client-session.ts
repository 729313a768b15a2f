import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChatServices } from '../service/chat-services.js';
import type { InboxCursor, InboxEntry, SessionOrigin, UserRecord } from '../service/ports.js';
import type { LiveSession } from '../service/session-registry.js';
import type { SessionSink } from '../service/session-sink.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Dispatcher } from './dispatcher.js';
import {
  ackFrame,
  errorReply,
  failureFrame,
  noticeFrame,
  replyFrame,
  v1Message,
  v2Delivery,
} from './encode.js';
import { MsgId } from './msgids.js';

export type ProtocolVersion = 1 | 2;

/** What a session needs from its connection; `src/net`'s `Connection` provides it. */
export interface FrameChannel {
  /** Writes one frame; onFlushed runs once its bytes were handed to the OS. */
  write(frame: string, onFlushed?: () => void): void;
  /** False while the outbound buffer is above its high-water mark. */
  writable(): boolean;
  /** Resolves on drain below the high-water mark, or on close. */
  waitWritable(): Promise<void>;
  /** True once closing has begun. */
  readonly closed: boolean;
  /** Closes after what was written (idempotent); `reason` is counted in metrics. */
  close(reason: string): void;
  /** Closes with `IDLE_TIMEOUT` after this long without an inbound frame; 0 turns it off. */
  setIdleTimeout(ms: number): void;
}

/** Per-connection policy: request budgets and idle timeouts. */
export interface SessionPolicy {
  readonly ratePerS: number;
  readonly rateBurst: number;
  readonly loginRatePerS: number;
  readonly loginBurst: number;
  readonly heartbeatTimeoutMs: number;
  readonly unauthTimeoutMs: number;
}

/** What a login handler hands to `openSession`: the reply, and where delivery starts. */
export interface SessionStart {
  readonly reply: Record<string, unknown>;
  /** Runs once the reply's bytes were handed to the OS. */
  readonly onReplyFlushed?: () => void;
  /** Delivery starts after this inbox sequence. */
  readonly afterSeq: number;
  /** The inbox's last sequence, when known: lets a session that has everything skip the first read. */
  readonly lastSeq?: number;
}

/**
 * One client connection as the protocol sees it, and the service's handle on its live session. It owns
 * all meaning: the protocol version, the user, request budgets and idle policy, every outbound frame,
 * the "error, then close" rule and the login order (attach → cursor → reply → start delivery).
 */
export class ClientSession implements SessionSink {
  version: ProtocolVersion = 1;
  user: { readonly id: number; readonly name: string } | undefined;
  session: LiveSession | undefined;
  /** Id of the current (or last attached) live session of this connection. */
  sessionId = '';
  private readonly requests: TokenBucket;
  private readonly logins: TokenBucket;
  private floodWindowStart = 0;
  private floodRejections = 0;

  constructor(
    private readonly channel: FrameChannel,
    readonly services: ChatServices,
    private readonly policy: SessionPolicy,
    readonly logger: Logger,
    private readonly dispatcher: Dispatcher,
  ) {
    this.requests = new TokenBucket(policy.ratePerS, policy.rateBurst, services.clock);
    this.logins = new TokenBucket(policy.loginRatePerS, policy.loginBurst, services.clock);
    this.updateIdleTimeout();
  }

  // ── Connection events ──────────────────────────────────────────────────────────────────────────

  /** Rate limit, taken per frame on arrival so the connection's queue stays bounded by the burst. */
  admit(frame: string): boolean {
    if (this.requests.take()) return true;
    const now = this.services.clock.now();
    if (now - this.floodWindowStart > 1000) {
      this.floodWindowStart = now;
      this.floodRejections = 0;
    }
    if (++this.floodRejections > this.policy.rateBurst) {
      this.fail(new AppError('FLOODING'));
      return false;
    }
    const msgid = peekField(frame, 'msgid');
    this.fail(
      new AppError('RATE_LIMITED'),
      typeof msgid === 'number' ? msgid : undefined,
      peekField(frame, 'reqId'),
    );
    return false;
  }

  /** One request, to completion; every failure is answered inside the dispatcher. */
  async handle(frame: string): Promise<void> {
    try {
      await this.dispatcher.handleFrame(this, frame);
    } catch (error) {
      this.logger.error({ err: error }, 'frame processing failed');
      this.channel.close('INTERNAL');
    }
    this.updateIdleTimeout();
  }

  /** The connection saw a fault (oversize frame, slow consumer, idle): tell the client, close. */
  fault(code: 'PAYLOAD_TOO_LARGE' | 'SLOW_CONSUMER' | 'IDLE_TIMEOUT'): void {
    this.fail(new AppError(code));
  }

  /** The connection closed: release the live session. */
  disconnected(_reason: string): void {
    this.endSession().catch((error: unknown) =>
      this.logger.warn({ err: error }, 'ending the session failed'),
    );
  }

  /** Shutdown: v2 clients are told when to reconnect elsewhere; then the connection closes. */
  shutdown(reconnectInMs: number): void {
    if (this.channel.closed) return;
    if (this.version === 2)
      this.send(noticeFrame(MsgId.SERVER_NOTICE, new AppError('SERVER_DRAINING'), { reconnectInMs }));
    this.channel.close('SERVER_DRAINING');
  }

  // ── Outbound frames ────────────────────────────────────────────────────────────────────────────

  /** Whether a request gets success replies: always on v2 connections and for requests that say v:2. */
  repliesTo(request: { v?: 1 | 2 | undefined }): boolean {
    return this.version === 2 || request.v === 2;
  }

  /** Generic success reply (ACK) for requests without a reply type of their own. */
  ack(
    request: { msgid: number; reqId?: unknown; v?: 1 | 2 | undefined },
    fields: Record<string, unknown> = {},
  ): void {
    if (this.repliesTo(request)) this.send(ackFrame(request.msgid, request.reqId, fields));
  }

  /** A reply of its own type (`msgid`) to the request `reqId`. */
  reply(msgid: number, reqId: unknown, fields: Record<string, unknown>): void {
    this.send(replyFrame(msgid, reqId, fields));
  }

  send(message: Record<string, unknown>, onFlushed?: () => void): void {
    if (!this.channel.closed) this.channel.write(JSON.stringify(message), onFlushed);
  }

  /**
   * The one "error, then close" rule: replies with an ERROR (or, for requests whose clients wait for a
   * reply of their own type, that type's failure shape) and closes when the catalog says so.
   */
  fail(
    error: AppError,
    re?: number,
    reqId?: unknown,
    failureReply?: (error: AppError) => Record<string, unknown>,
  ): void {
    if (this.channel.closed) return;
    this.send(failureReply ? failureFrame(failureReply(error), reqId) : errorReply(error, re, reqId));
    if (error.closesConnection) this.channel.close(error.code);
  }

  get connectionClosed(): boolean {
    return this.channel.closed;
  }

  takeAuthAttempt(): boolean {
    return this.logins.take();
  }

  requireUser(): { readonly id: number; readonly name: string } {
    if (!this.user) throw new AppError('NOT_LOGGED_IN');
    return this.user;
  }

  // ── Sessions ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The login order in one place: attach (subscribe) → read the inbox cursor → send the reply → start
   * delivery. Events that arrive before the start are re-read from the store by the pump.
   */
  async openSession(
    user: UserRecord,
    version: ProtocolVersion,
    origin: SessionOrigin | undefined,
    start: (session: LiveSession, cursor: InboxCursor) => Promise<SessionStart> | SessionStart,
  ): Promise<void> {
    const session = await this.beginSession(user, version, origin);
    const cursor = await this.services.messages.cursor(user.id);
    const { reply, onReplyFlushed, afterSeq, lastSeq } = await start(session, cursor);
    if (this.session !== session) return;
    this.send(reply, onReplyFlushed);
    session.pump.start(afterSeq, lastSeq);
  }

  /** Makes this connection the user's live session (ending any earlier one on it); delivery not started. */
  private async beginSession(
    user: UserRecord,
    version: ProtocolVersion,
    origin?: SessionOrigin,
  ): Promise<LiveSession> {
    await this.endSession();
    this.version = version;
    this.user = { id: user.id, name: user.name };
    this.sessionId = randomUUID();
    const session = await this.services.sessions.attach(user.id, this, { ackOnFlush: version === 1, origin });
    // The connection may have closed while this login was in flight; then nobody will detach it later.
    if (this.channel.closed) await this.services.sessions.detach(session);
    else this.session = session;
    this.updateIdleTimeout();
    return session;
  }

  /** Logout or disconnect: releases the live session; the connection itself stays as it is. */
  async endSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.user = undefined;
    if (session) await this.services.sessions.detach(session);
  }

  // ── SessionSink: the service's handle ──────────────────────────────────────────────────────────

  get closed(): boolean {
    return this.channel.closed || !this.session;
  }

  deliver(entry: InboxEntry, onFlushed?: () => void): void {
    if (!this.closed) this.send(this.version === 2 ? v2Delivery(entry) : v1Message(entry.message), onFlushed);
  }

  writable(): boolean {
    return this.channel.writable();
  }

  waitWritable(): Promise<void> {
    return this.channel.waitWritable();
  }

  kick(sessionId: string, by?: SessionOrigin): void {
    if (this.session?.sessionId !== sessionId || this.channel.closed) return;
    // The registry already replaced this session; forget it without detaching the new one.
    this.session = undefined;
    this.user = undefined;
    if (this.version === 2) this.send(noticeFrame(MsgId.KICKED, new AppError('KICKED'), by ? { by } : {}));
    this.channel.close('KICKED');
  }

  /** Unauthenticated and v2 connections must show traffic; v1 clients have no heartbeat (TCP keep-alive). */
  private updateIdleTimeout(): void {
    this.channel.setIdleTimeout(
      !this.user ? this.policy.unauthTimeoutMs : this.version === 2 ? this.policy.heartbeatTimeoutMs : 0,
    );
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
