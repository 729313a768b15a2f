import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChatServices } from '../service/chat-services.js';
import type { InboxEntry, SessionOrigin, UserRecord } from '../service/ports.js';
import type { LiveSession } from '../service/session-registry.js';
import type { SessionSink } from '../service/session-sink.js';
import { errorReply, v1Message, v2Delivery } from './encode.js';
import { MsgId } from './msgids.js';
import type { Outbound } from './outbound.js';

export type ProtocolVersion = 1 | 2;

/** Per-connection protocol state: who is logged in, with which protocol version, and their live session. */
export class ClientContext {
  version: ProtocolVersion = 1;
  user: { readonly id: number; readonly name: string } | undefined;
  session: LiveSession | undefined;

  constructor(
    readonly out: Outbound,
    readonly services: ChatServices,
    readonly logger: Logger,
  ) {}

  /** Whether a request gets success replies: always on v2 connections and for requests that say v:2. */
  repliesTo(request: { v?: 1 | 2 | undefined }): boolean {
    return this.version === 2 || request.v === 2;
  }

  /** Generic success reply (ACK) for requests without a reply type of their own. */
  ack(
    request: { msgid: number; reqId?: unknown; v?: 1 | 2 | undefined },
    fields: Record<string, unknown> = {},
  ): void {
    if (!this.repliesTo(request)) return;
    this.send({ msgid: MsgId.ACK, re: request.msgid, ...withReqId(request.reqId), ...fields });
  }

  reply(msgid: number, reqId: unknown, fields: Record<string, unknown>): void {
    this.send({ msgid, ...withReqId(reqId), ...fields });
  }

  send(message: Record<string, unknown>, onFlushed?: () => void): void {
    this.out.send(message, onFlushed);
  }

  /** Replies with an ERROR; closes the connection when the error demands it. */
  fail(error: AppError, re: number | undefined, reqId: unknown): void {
    this.send(errorReply(error, re, reqId));
    if (error.closesConnection) this.out.close(error.code);
  }

  requireUser(): { readonly id: number; readonly name: string } {
    if (!this.user) throw new AppError('NOT_LOGGED_IN');
    return this.user;
  }

  /**
   * Makes this connection the user's live session (ending any earlier session on it). The pump is not
   * started: the caller sends its login reply first and then starts it.
   */
  async beginSession(
    user: UserRecord,
    version: ProtocolVersion,
    origin?: SessionOrigin,
  ): Promise<LiveSession> {
    await this.endSession();
    this.version = version;
    this.user = { id: user.id, name: user.name };
    const sink = new ConnectionSink(this, randomUUID());
    const session = await this.services.sessions.attach(user.id, sink, { ackOnFlush: version === 1, origin });
    // The connection may have closed while this login was in flight; then nobody will detach it later.
    if (this.out.closed) await this.services.sessions.detach(session);
    else this.session = session;
    return session;
  }

  /** Logout or disconnect: releases the session; the connection itself stays as it is. */
  async endSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.user = undefined;
    if (session) await this.services.sessions.detach(session);
  }

  encodeDelivery(entry: InboxEntry): Record<string, unknown> {
    return this.version === 2 ? v2Delivery(entry) : v1Message(entry.message);
  }
}

/** The service's handle on one session of this connection. */
class ConnectionSink implements SessionSink {
  constructor(
    private readonly context: ClientContext,
    readonly sessionId: string,
  ) {}

  private get current(): boolean {
    return this.context.session?.sessionId === this.sessionId;
  }

  get closed(): boolean {
    return this.context.out.closed || !this.current;
  }

  deliver(entry: InboxEntry, onFlushed?: () => void): void {
    if (!this.closed) this.context.send(this.context.encodeDelivery(entry), onFlushed);
  }

  writable(): boolean {
    return this.context.out.writable();
  }

  waitWritable(): Promise<void> {
    return this.context.out.waitWritable();
  }

  kick(by?: SessionOrigin): void {
    if (!this.current || this.context.out.closed) return;
    // The registry already replaced this session; forget it without detaching the new one.
    this.context.session = undefined;
    this.context.user = undefined;
    if (this.context.version === 2) {
      const error = new AppError('KICKED');
      this.context.send({
        msgid: MsgId.KICKED,
        errno: error.errno,
        code: error.code,
        errmsg: error.message,
        ...(by ? { by } : {}),
      });
    }
    this.context.out.close('KICKED');
  }
}

function withReqId(reqId: unknown): Record<string, unknown> {
  return reqId === undefined ? {} : { reqId };
}
