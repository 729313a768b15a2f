import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChatServices } from '../service/chat-services.js';
import {
  V1_DEVICE,
  type DeviceCursor,
  type DeviceId,
  type InboxEntry,
  type SessionOrigin,
  type UserRecord,
} from '../service/ports.js';
import type { LiveSession, NoticeEvent } from '../service/session-registry.js';
import type { SessionSink } from '../service/session-sink.js';
import { addressKey } from '../util/address-key.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Dispatcher } from './dispatcher.js';
import { ackFrame, errorReply, failureFrame, noticeFrame, replyFrame, v2Delivery } from './encode.js';
import { presenceFrame, readFrame, typingFrame } from './encode-live.js';
import { MsgId } from './msgids.js';
import { V1DeliveryConfirmer } from './v1-delivery-confirmer.js';
import { v1MessageFrames } from './v1-frames.js';

/** Ack credit kept at most (a client cannot bank more acks than a few replay pages' worth). */
const MAX_ACK_CREDIT = 10_000;
/** Could be an INBOX_ACK (msgid 15); confirmed by parsing. */
const ACK_TEXT = /"msgid"\s*:\s*15\b/;

export type ProtocolVersion = 1 | 2;

/** What a session needs from its connection; `src/net`'s `Connection` provides it. */
export interface FrameChannel {
  /** `tcp` streams frames (the ancestor's client needs them paced); `ws` delimits each message itself. */
  readonly kind: 'tcp' | 'ws';
  /** The client's IP address (behind a trusted load balancer, the one its PROXY header named). */
  readonly remoteIp: string;
  /** Address and port, for log lines (`remoteIp` when not given). */
  readonly remoteAddress?: string;
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
  /** Closes with `IDLE_TIMEOUT` this long from now, whatever the traffic; 0 clears it. */
  setDeadline(ms: number): void;
  /** One frame per write, the next `gapMs` after the previous was flushed; 0 turns pacing off. */
  setPacing(gapMs: number): void;
  /** Outbound bytes not yet handed to the OS. */
  bufferedBytes(): number;
  /** Frames NUL-padded to exactly `bytes` for a peer that frames with NUL; 0 turns it off. */
  setFrameAlignment(bytes: number): void;
}

/** Per-connection policy: request budgets and idle timeouts. */
export interface SessionPolicy {
  readonly ratePerS: number;
  readonly rateBurst: number;
  readonly loginRatePerS: number;
  readonly loginBurst: number;
  /** Typing notices relayed per second (more are dropped). */
  readonly typingPerS: number;
  readonly heartbeatTimeoutMs: number;
  readonly unauthTimeoutMs: number;
  /** v1 frames: the largest frame, the pacing gap, and how long a delivery must settle (see config). */
  readonly v1: {
    readonly maxFrameBytes: number;
    readonly paceMs: number;
    readonly ackSettleMs: number;
    readonly holdMs: number;
  };
}

/** What a login handler hands to `openSession`: the reply, and where delivery starts. */
export interface SessionStart {
  /** The reply, as an object or as JSON text already sized for its client. */
  readonly reply: Record<string, unknown> | string;
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
  /** The device of the current (or last) session: chosen by a v2 client, `v1` for the ancestor's. */
  device: DeviceId = V1_DEVICE;
  session: LiveSession | undefined;
  /** Id of the current (or last attached) live session of this connection. */
  sessionId = '';
  private readonly requests: TokenBucket;
  private readonly logins: TokenBucket;
  /** Typing notices, on a budget of their own (made on first use: most connections never type). */
  private typingBudget: TokenBucket | undefined;
  private floodWindowStart = 0;
  private floodRejections = 0;
  /**
   * INBOX_ACKs admitted beyond the request budget: one per delivered message, as PROTOCOL.md invites, so
   * a client acking a large replay is never throttled for doing what it was told.
   */
  private ackCredit = 0;
  /** Whether the login deadline was last set for a logged-in (cleared) or a logged-out connection. */
  private deadlineFor: boolean | undefined;
  /** v1 sessions: deliveries written but not yet known to be shown. */
  private confirmer: V1DeliveryConfirmer | undefined;
  /** Frames admitted and not yet handled: while there are any, v1 confirmations wait (see `confirmV1`). */
  private framesInHand = 0;
  /** The highest v1 confirmation waiting for the frame in hand, with the session it belongs to. */
  private heldConfirmation: { readonly session: LiveSession; readonly seq: number } | undefined;
  /** This connection's child logger, made at its first log line (most connections never log one). */
  private connectionLogger: Logger | undefined;

  constructor(
    private readonly channel: FrameChannel,
    readonly services: ChatServices,
    private readonly policy: SessionPolicy,
    /** The server's logger; lines of this connection carry its `remote` address and `transport`. */
    private readonly serverLogger: Logger,
    private readonly dispatcher: Dispatcher,
  ) {
    this.requests = new TokenBucket(policy.ratePerS, policy.rateBurst, services.clock);
    this.logins = new TokenBucket(policy.loginRatePerS, policy.loginBurst, services.clock);
    this.updateIdleTimeout();
    // Every connection starts as v1 (a v2 client says so at login). A TCP one is paced until then, and if
    // the peer frames with NUL (the ancestor's client) its frames are padded to one recv() buffer each:
    // frames that arrive together anyway (a client slowed down) then stay one per read.
    if (channel.kind === 'tcp') {
      channel.setPacing(policy.v1.paceMs);
      channel.setFrameAlignment(policy.v1.maxFrameBytes + 1);
    }
  }

  /** The connection's logger (a pino child with `remote` and `transport`), made on first use. */
  get logger(): Logger {
    return (this.connectionLogger ??= this.serverLogger.child({
      remote: this.channel.remoteAddress ?? this.channel.remoteIp,
      transport: this.channel.kind,
    }));
  }

  // ── Connection events ──────────────────────────────────────────────────────────────────────────

  /** Rate limit, taken per frame on arrival so the connection's queue stays bounded by the burst. */
  admit(frame: string): boolean {
    // Counted before `alive`, so the ack it implies waits until this frame was handled (see confirmV1).
    this.framesInHand++;
    const admitted = this.admitFrame(frame);
    if (!admitted) this.frameDone();
    return admitted;
  }

  private admitFrame(frame: string): boolean {
    // Anything from a v1 client shows it lived past what was written to it before.
    this.confirmer?.alive();
    // Acks spend their credit first, so acking a replay leaves the request budget for real requests. The
    // cheap text test keeps other frames from being parsed twice.
    if (this.ackCredit > 0 && ACK_TEXT.test(frame) && peekField(frame, 'msgid') === MsgId.INBOX_ACK) {
      this.ackCredit--;
      return true;
    }
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
    this.frameDone();
    this.updateIdleTimeout();
  }

  /**
   * A frame was handled (or refused): a v1 confirmation it held back goes to the session's acks on the
   * next tick — after the bus publish and socket writes this frame's handling queued, which run on ticks
   * queued before it (the ack write's own work would otherwise run ahead of them).
   */
  private frameDone(): void {
    this.framesInHand = Math.max(0, this.framesInHand - 1);
    if (this.heldConfirmation !== undefined) process.nextTick(() => this.releaseConfirmation());
  }

  /**
   * Where the v1 confirmer's acks go. A v1 client's next request is what confirms its earlier deliveries,
   * and that request is usually a send: writing the ack at once would put an ack write on the database
   * ahead of, and at the same moment as, the send's own append — on the path of the message (W3 in
   * docs/BENCHMARKS.md). So while a frame is in hand the confirmation waits, and goes out once that frame
   * was handled (after its append committed). Later, never earlier: an ack held back and lost with the
   * process means a redelivery, not a loss.
   */
  private confirmV1(session: LiveSession, seq: number): void {
    if (this.framesInHand === 0) {
      session.acks.ack(seq);
      return;
    }
    const held = this.heldConfirmation;
    if (held === undefined || held.session !== session || held.seq < seq) {
      if (held !== undefined && held.session !== session) held.session.acks.ack(held.seq);
      this.heldConfirmation = { session, seq };
    }
  }

  private releaseConfirmation(): void {
    const held = this.heldConfirmation;
    if (held === undefined) return;
    this.heldConfirmation = undefined;
    held.session.acks.ack(held.seq);
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

  send(message: Record<string, unknown> | string, onFlushed?: () => void): void {
    if (this.channel.closed) return;
    this.channel.write(typeof message === 'string' ? message : JSON.stringify(message), onFlushed);
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

  /** The client's address as per-address limits count it (an IPv6 client by its /64). */
  get remoteIp(): string {
    return addressKey(this.channel.remoteIp);
  }

  /** How long a v1 request that cannot be stored is held and retried. */
  get v1HoldMs(): number {
    return this.policy.v1.holdMs;
  }

  /** The largest frame a v1 connection can read. */
  get v1MaxFrameBytes(): number {
    return this.policy.v1.maxFrameBytes;
  }

  get connectionClosed(): boolean {
    return this.channel.closed;
  }

  takeAuthAttempt(): boolean {
    return this.logins.take();
  }

  /** Whether one more typing notice may be relayed now. */
  takeTypingBudget(): boolean {
    this.typingBudget ??= new TokenBucket(
      this.policy.typingPerS,
      this.policy.typingPerS,
      this.services.clock,
    );
    return this.typingBudget.take();
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
    device: DeviceId,
    origin: SessionOrigin | undefined,
    start: (session: LiveSession, cursor: DeviceCursor) => Promise<SessionStart> | SessionStart,
  ): Promise<void> {
    const session = await this.beginSession(user, version, device, origin);
    let begun: SessionStart;
    try {
      // Read after the subscription is live, so lastSeq covers everything the bus may not announce.
      const cursor = await this.services.messages.openDevice(user.id, device);
      await this.services.sessions.noteDevices(user.id, cursor.activeDevices);
      begun = await start(session, cursor);
    } catch (error) {
      // No reply went out: the login failed (its error reply follows), so the session must not stay half open.
      if (this.session === session) await this.endSession();
      throw error;
    }
    if (this.session !== session) return;
    const { reply, onReplyFlushed, afterSeq, lastSeq } = begun;
    // A flush that lands after this session ended (a logout and another login) must not count for the next.
    this.send(reply, onReplyFlushed && (() => this.session === session && onReplyFlushed()));
    session.pump.start(afterSeq, lastSeq);
  }

  /** Makes this connection the user's live session (ending any earlier one on it); delivery not started. */
  private async beginSession(
    user: UserRecord,
    version: ProtocolVersion,
    device: DeviceId,
    origin?: SessionOrigin,
  ): Promise<LiveSession> {
    await this.endSession();
    this.version = version;
    this.device = device;
    if (version === 2 && this.channel.kind === 'tcp') {
      this.channel.setPacing(0);
      this.channel.setFrameAlignment(0);
    }
    this.user = { id: user.id, name: user.name };
    this.sessionId = randomUUID();
    // The confirmer is captured here, so a late flush of an earlier session can never ack this one.
    const confirmer = version === 1 ? this.newConfirmer() : undefined;
    this.confirmer = confirmer;
    let session: LiveSession;
    try {
      session = await this.services.sessions.attach(user.id, this, {
        device,
        hidden: user.presenceHidden,
        origin,
        onFlushed: confirmer && ((seq: number) => confirmer.flushed(seq)),
        // The ancestor's client cannot tell a copy of its own send from a message to it.
        skipOwn: version === 1,
      });
    } catch (error) {
      // Refused (a device too many, a stale attempt): the connection stays, logged out.
      if (this.confirmer === confirmer) {
        this.user = undefined;
        this.confirmer = undefined;
        confirmer?.stop();
        this.updateIdleTimeout();
      }
      throw error;
    }
    confirmer?.bind((seq) => this.confirmV1(session, seq));
    // The connection may have closed while this login was in flight; then nobody will detach it later.
    if (this.channel.closed) await this.services.sessions.detach(session);
    else this.session = session;
    this.updateIdleTimeout();
    return session;
  }

  /**
   * Logout or disconnect: releases the live session; the connection itself stays as it is. A clean
   * logout (`confirmed`) counts every v1 delivery written so far as shown; a disconnect leaves the
   * unconfirmed ones in the inbox.
   */
  async endSession(confirmed = false): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.user = undefined;
    if (confirmed) this.confirmer?.confirmAll();
    this.confirmer?.stop();
    this.confirmer = undefined;
    // A confirmation held for the frame in hand (this logout, or a request cut off by the close) is
    // written with the session's last acks, which detach flushes.
    this.releaseConfirmation();
    if (session) await this.services.sessions.detach(session);
  }

  /** Sequences are confirmed into the session's acks once it is attached (`bind`). */
  private newConfirmer(): V1DeliveryConfirmer {
    return new V1DeliveryConfirmer(this.services.clock, this.policy.v1.ackSettleMs, this.channel);
  }

  /** The v1 login reply's offline messages count like deliveries: shown once the write settled. */
  v1Flushed(seq: number): void {
    this.confirmer?.flushed(seq);
  }

  // ── SessionSink: the service's handle ──────────────────────────────────────────────────────────

  get closed(): boolean {
    return this.channel.closed || !this.session;
  }

  deliver(entry: InboxEntry, onFlushed?: () => void): void {
    if (this.closed) return;
    if (this.version === 2) {
      this.ackCredit = Math.min(this.ackCredit + 1, MAX_ACK_CREDIT);
      this.channel.write(JSON.stringify(v2Delivery(entry, this.user?.id ?? 0)), onFlushed);
      return;
    }
    // A message too long for one v1 frame goes out in numbered parts; delivered once the last is flushed.
    const frames = v1MessageFrames(entry.message, this.policy.v1.maxFrameBytes);
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) this.channel.write(frames[i]!);
    this.channel.write(frames[last]!, onFlushed);
  }

  writable(): boolean {
    return this.channel.writable();
  }

  waitWritable(): Promise<void> {
    return this.channel.waitWritable();
  }

  kick(sessionId: string, by?: SessionOrigin, everywhere = false): void {
    // `sessionId` is set before the attach, so a kick that arrives while the attach is still in flight
    // (another login of the user won the race) closes this connection too; beginSession then detaches.
    if (this.sessionId !== sessionId || !this.user || this.channel.closed) return;
    // The registry already replaced this session; forget it without detaching the new one.
    this.session = undefined;
    this.user = undefined;
    if (this.version === 2) {
      // Still KICKED (a client must not reconnect), but saying why: the user ended every device's session.
      const extra = everywhere
        ? { errmsg: 'this account logged out on every device', everywhere: true }
        : by
          ? { by }
          : {};
      this.send(noticeFrame(MsgId.KICKED, new AppError('KICKED'), extra));
    }
    this.channel.close('KICKED');
  }

  notify(event: NoticeEvent): void {
    if (this.closed || this.version !== 2) return;
    if (event.type === 'presence') this.send(presenceFrame(event.subject, event.view));
    else if (event.type === 'typing') this.send(typingFrame(event));
    else this.send(readFrame(event));
  }

  /**
   * A connection must log in within UNAUTH_TIMEOUT_MS of connecting (or of logging out) — a deadline that
   * PINGs cannot push back; a logged-in v2 connection must show traffic within HEARTBEAT_TIMEOUT_MS; v1
   * clients have no heartbeat (TCP keep-alive).
   */
  private updateIdleTimeout(): void {
    const loggedIn = this.user !== undefined;
    if (loggedIn !== this.deadlineFor) {
      this.deadlineFor = loggedIn;
      this.channel.setDeadline(loggedIn ? 0 : this.policy.unauthTimeoutMs);
    }
    this.channel.setIdleTimeout(loggedIn && this.version === 2 ? this.policy.heartbeatTimeoutMs : 0);
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
