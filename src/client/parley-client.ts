import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../util/clock.js';
import { type ClientLink, type Endpoint, openLink } from './client-transport.js';

// Wire ids (docs/PROTOCOL.md). Duplicated from src/protocol on purpose: the client is a separate
// program that must not import server code.
const LOGIN = 1;
const LOGIN_ACK = 2;
const LOGINOUT = 3;
const REG = 4;
const REG_ACK = 5;
const ONE_CHAT = 6;
const ADD_FRIEND = 7;
const CREATE_GROUP = 8;
const ADD_GROUP = 9;
const GROUP_CHAT = 10;
const ERROR = 11;
const SYNC = 13;
const INBOX_ACK = 15;
const HISTORY = 16;
const PING = 18;
const RESUME = 20;
const RESUME_ACK = 21;
const KICKED = 22;
const FRIEND_LIST = 23;
const GROUP_LIST = 25;
const USER_LOOKUP = 27;
const SERVER_NOTICE = 29;

export interface ParleyClientOptions extends Endpoint {
  /** Reconnect and resume after a dropped connection. @default true */
  readonly reconnect?: boolean;
  /** First reconnect delay; doubles per attempt with full jitter. @default 200 */
  readonly backoffMinMs?: number;
  /** @default 10000 */
  readonly backoffMaxMs?: number;
  /** Interval of application pings (the server closes v2 connections silent for 45 s). @default 15000 */
  readonly heartbeatMs?: number;
  /**
   * A link that brings no frame for this long (not even the pong to a heartbeat) is treated as dead and
   * replaced: a silently vanished server or load balancer sends no FIN or RST. @default 3 × heartbeatMs
   */
  readonly silenceTimeoutMs?: number;
  /** A request without a reply after this long fails with TIMEOUT. @default 15000 */
  readonly requestTimeoutMs?: number;
  /** Acks of received messages are coalesced for this long. @default 25 */
  readonly ackDelayMs?: number;
  /** Measures the silence of a link. @default systemClock */
  readonly clock?: Clock;
}

/** A chat message as delivered to this client. */
export interface ChatMessage {
  readonly mid: number;
  readonly seq: number;
  readonly from: { readonly id: number; readonly name: string };
  /** 1:1 messages: the recipient (this user). */
  readonly toid?: number;
  readonly groupid?: number;
  readonly groupname?: string;
  readonly msg: string;
  readonly time: string;
  readonly ts: number;
}

/** History entries are not inbox positions, so they carry no seq. */
export type HistoryMessage = Omit<ChatMessage, 'seq'>;

export interface FriendInfo {
  readonly id: number;
  readonly name: string;
  readonly online: boolean;
}

export interface GroupInfo {
  readonly id: number;
  readonly groupname: string;
  readonly groupdesc: string;
  readonly users: readonly (FriendInfo & { readonly role: 'creator' | 'normal' })[];
}

/** A failed request: `code` is the server's catalog code, or DISCONNECTED / TIMEOUT / CLOSED locally. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly code: string,
    message: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}

export interface ClientEvents {
  message: [ChatMessage];
  /**
   * Another session of this user took over (`by`: the client instance and attempt that did, if known).
   * The client is closed and logged out (`user` is undefined); log in again on a new client.
   */
  kicked: [by?: { cid: string; attempt: number }];
  disconnected: [];
  reconnecting: [{ attempt: number; delayMs: number }];
  resumed: [];
  /** The session could not be resumed (token revoked or expired); closed and logged out, as after `kicked`. */
  'session-lost': [ClientError];
  /** The server is draining and will close this connection. */
  notice: [{ code: string; reconnectInMs: number }];
}

interface Pending {
  readonly frame: Record<string, unknown>;
  /** Sends carry a cmid, so resending after a reconnect is safe (the server stores them once). */
  readonly resend: boolean;
  sent: boolean;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (reply: Record<string, unknown>) => void;
  readonly reject: (error: ClientError) => void;
}

type State = 'idle' | 'open' | 'reconnecting' | 'closed';

/** Recently seen message ids kept for de-duplication. */
const SEEN_MIDS = 10_000;

/**
 * Parley protocol v2 client for Node (TCP or WebSocket). Logs in, sends with idempotent client message
 * ids, receives every message exactly once in order (seq/mid de-duplication, coalesced acks), and after a
 * dropped connection reconnects with backoff + jitter, resumes with its token and resends unacked sends.
 */
export class ParleyClient extends EventEmitter<ClientEvents> {
  private link: ClientLink | undefined;
  private state: State = 'idle';
  private readonly pending = new Map<number, Pending>();
  private nextReqId = 1;
  private token: string | undefined;
  private lastSeqValue = 0;
  private readonly seenMids = new Set<number>();
  private ackTimer: NodeJS.Timeout | undefined;
  private ackedSent = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastHeardAt = 0;
  /** This client instance's id and its resume attempts, so it can recognise its own stale attempts. */
  private readonly cid = randomUUID();
  private attempt = 0;
  private userValue: { id: number; name: string } | undefined;
  private nodeValue: string | undefined;
  /** Messages dropped as duplicates (kept for tests and benchmarks). */
  duplicatesDropped = 0;
  /** Holes in the pushed sequence that were repaired by resuming (should stay 0). */
  gapsRepaired = 0;

  private readonly clock: Clock;

  constructor(private readonly options: ParleyClientOptions) {
    super();
    this.clock = options.clock ?? systemClock;
  }

  /** The logged-in user; undefined before login, after logout, and once the session ended (kicked, lost). */
  get user(): { id: number; name: string } | undefined {
    return this.userValue;
  }

  /** NODE_ID of the server node this client is attached to (changes after a failover). */
  get node(): string | undefined {
    return this.nodeValue;
  }

  /** Highest inbox sequence received. */
  get lastSeq(): number {
    return this.lastSeqValue;
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  async connect(): Promise<void> {
    if (this.state !== 'idle') throw new ClientError('CLOSED', 'connect() may be called once');
    this.link = await this.open();
    this.state = 'open';
    this.startHeartbeat();
  }

  async register(name: string, password: string): Promise<number> {
    const reply = await this.request({ msgid: REG, v: 2, name, password });
    return reply.id as number;
  }

  /** Logs in by id or name; messages after the last acked one start arriving right after. */
  async login(
    who: { id: number } | { name: string },
    password: string,
  ): Promise<{ id: number; name: string }> {
    await this.request({ msgid: LOGIN, v: 2, ...who, password, cid: this.cid });
    return this.userValue!;
  }

  /** Sends a 1:1 message; resolves with the server message id once it is stored. */
  async sendTo(toid: number, msg: string, cmid: string = randomUUID()): Promise<number> {
    const reply = await this.send({ msgid: ONE_CHAT, toid, msg, cmid });
    return reply.mid as number;
  }

  async sendToGroup(groupid: number, msg: string, cmid: string = randomUUID()): Promise<number> {
    const reply = await this.send({ msgid: GROUP_CHAT, groupid, msg, cmid });
    return reply.mid as number;
  }

  /**
   * A send, retried while the server answers UNAVAILABLE (its database is down): the cmid makes a repeat
   * safe — the server stores it once. Gives up with that error once `requestTimeoutMs` has passed.
   */
  private async send(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const deadline = this.clock.now() + (this.options.requestTimeoutMs ?? 15_000);
    for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
      try {
        return await this.request(frame, true);
      } catch (error) {
        const left = deadline - this.clock.now();
        if (!(error instanceof ClientError) || error.code !== 'UNAVAILABLE' || left <= 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      }
    }
  }

  async addFriend(friendid: number): Promise<void> {
    await this.request({ msgid: ADD_FRIEND, friendid });
  }

  async createGroup(groupname: string, groupdesc = ''): Promise<number> {
    const reply = await this.request({ msgid: CREATE_GROUP, groupname, groupdesc });
    return reply.groupid as number;
  }

  async joinGroup(groupid: number): Promise<void> {
    await this.request({ msgid: ADD_GROUP, groupid });
  }

  async friends(): Promise<FriendInfo[]> {
    return (await this.request({ msgid: FRIEND_LIST })).friends as FriendInfo[];
  }

  async groups(): Promise<GroupInfo[]> {
    return (await this.request({ msgid: GROUP_LIST })).groups as GroupInfo[];
  }

  async whois(name: string): Promise<FriendInfo> {
    return (await this.request({ msgid: USER_LOOKUP, name })).user as FriendInfo;
  }

  /** A conversation's history, newest first; pass `before` (a mid) for older pages. */
  async history(
    query: { with: number } | { groupid: number },
    before?: number,
    limit?: number,
  ): Promise<{ messages: HistoryMessage[]; more: boolean }> {
    const reply = await this.request({
      msgid: HISTORY,
      ...query,
      ...(before === undefined ? {} : { before }),
      ...(limit === undefined ? {} : { limit }),
    });
    return {
      messages: (reply.messages as Record<string, unknown>[]).map(toChatMessage),
      more: reply.more as boolean,
    };
  }

  /** Explicit inbox page (the server also pushes); returned messages are not emitted or acked. */
  async sync(
    after: number,
    limit?: number,
  ): Promise<{ messages: ChatMessage[]; lastSeq: number; more: boolean }> {
    const reply = await this.request({ msgid: SYNC, after, ...(limit === undefined ? {} : { limit }) });
    return {
      messages: (reply.messages as Record<string, unknown>[]).map(toChatMessage),
      lastSeq: reply.lastSeq as number,
      more: reply.more as boolean,
    };
  }

  async ping(): Promise<void> {
    await this.request({ msgid: PING });
  }

  /** Logs out (revoking the session token); the connection stays open for another login. */
  async logout(): Promise<void> {
    this.flushAck();
    await this.request({ msgid: LOGINOUT });
    this.token = undefined;
    this.userValue = undefined;
  }

  /** Closes for good: no reconnect; pending requests fail with CLOSED. */
  close(): void {
    if (this.state === 'closed') return;
    this.flushAck();
    this.state = 'closed';
    this.stopTimers();
    this.failPending((p) => !!p, 'CLOSED', 'client closed');
    // Gracefully, so the ack just flushed reaches the server (else the next login shows it all again).
    this.link?.end();
    this.link = undefined;
  }

  /** The session is over for good (taken over, or not resumable): closed, and no longer logged in. */
  private endSession(): void {
    this.close();
    this.token = undefined;
    this.userValue = undefined;
  }

  /** Cuts the connection as a network failure would (tests and benchmarks use it); reconnects if enabled. */
  dropConnection(): void {
    this.link?.close();
  }

  private request(frame: Record<string, unknown>, resend = false): Promise<Record<string, unknown>> {
    if (this.state === 'closed' || this.state === 'idle')
      return Promise.reject(new ClientError('CLOSED', 'not connected'));
    const reqId = this.nextReqId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(
          new ClientError(
            'TIMEOUT',
            `no reply to msgid ${String(frame.msgid)} within ${this.options.requestTimeoutMs ?? 15000} ms`,
          ),
        );
      }, this.options.requestTimeoutMs ?? 15_000);
      const entry: Pending = { frame: { ...frame, reqId }, resend, sent: false, timer, resolve, reject };
      this.pending.set(reqId, entry);
      if (this.state === 'open') this.transmit(entry);
    });
  }

  private transmit(entry: Pending): void {
    entry.sent = true;
    this.link?.send(JSON.stringify(entry.frame));
  }

  private open(): Promise<ClientLink> {
    let link: ClientLink | undefined;
    // Only the current link speaks for this client: a late frame or close of a link already given up
    // (a reconnect attempt that timed out) must not touch the session.
    return openLink(this.options, {
      frame: (text) => {
        if (link !== undefined && this.link === link) this.onFrame(text);
      },
      closed: () => {
        if (link !== undefined && this.link === link) this.onLinkClosed();
      },
    }).then((opened) => (link = opened));
  }

  private onFrame(text: string): void {
    this.lastHeardAt = this.clock.now();
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const reqId = frame.reqId;
    if (typeof reqId === 'number' && this.pending.has(reqId)) {
      this.settle(reqId, frame);
      return;
    }
    switch (frame.msgid) {
      case ONE_CHAT:
      case GROUP_CHAT:
        if (typeof frame.seq === 'number') this.onDelivery(toChatMessage(frame));
        break;
      case KICKED: {
        const by = frame.by as { cid?: unknown; attempt?: unknown } | undefined;
        if (by?.cid === this.cid && typeof by.attempt === 'number' && by.attempt < this.attempt) {
          // An earlier reconnect attempt of ours reached a node late (say, from a frozen load balancer's
          // backlog) and displaced this session. Not a takeover: the server closes this link, and the
          // ordinary reconnect resumes with a newer attempt, which displaces the stale one in turn.
          break;
        }
        this.endSession();
        this.emit('kicked', by as { cid: string; attempt: number } | undefined);
        break;
      }
      case SERVER_NOTICE:
        this.emit('notice', { code: String(frame.code), reconnectInMs: Number(frame.reconnectInMs) || 0 });
        break;
      default:
        break;
    }
  }

  private settle(reqId: number, reply: Record<string, unknown>): void {
    const entry = this.pending.get(reqId)!;
    this.pending.delete(reqId);
    clearTimeout(entry.timer);
    const failed =
      reply.msgid === ERROR ||
      ([LOGIN_ACK, REG_ACK, RESUME_ACK].includes(reply.msgid as number) && reply.errno !== 0);
    if (failed) {
      entry.reject(
        new ClientError(
          asText(reply.code, 'ERROR'),
          asText(reply.errmsg, 'request failed'),
          reply.errno as number,
        ),
      );
      return;
    }
    // Applied before any later frame of the same read: pushed messages follow the ack immediately.
    if (reply.msgid === LOGIN_ACK) this.applySession(reply, true);
    entry.resolve(reply);
  }

  private applySession(reply: Record<string, unknown>, fresh: boolean): void {
    this.token = reply.token as string;
    this.userValue = { id: reply.id as number, name: reply.name as string };
    this.nodeValue = typeof reply.node === 'string' ? reply.node : undefined;
    const acked = reply.ackedSeq as number;
    if (fresh) {
      this.lastSeqValue = acked;
      this.ackedSent = acked;
    } else {
      this.ackedSent = Math.max(this.ackedSent, acked);
    }
  }

  private onDelivery(message: ChatMessage): void {
    if (message.seq <= this.lastSeqValue || this.seenMids.has(message.mid)) {
      this.duplicatesDropped++;
      return;
    }
    if (message.seq > this.lastSeqValue + 1) {
      // A hole in the inbox sequence: never skip it. Drop this link; the resume replays from lastSeq.
      this.gapsRepaired++;
      this.link?.close();
      return;
    }
    this.lastSeqValue = message.seq;
    this.seenMids.add(message.mid);
    if (this.seenMids.size > SEEN_MIDS) this.seenMids.delete(this.seenMids.values().next().value!);
    this.emit('message', message);
    this.ackTimer ??= setTimeout(() => this.flushAck(), this.options.ackDelayMs ?? 25);
  }

  private flushAck(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.lastSeqValue <= this.ackedSent || this.state !== 'open') return;
    this.ackedSent = this.lastSeqValue;
    this.link?.send(JSON.stringify({ msgid: INBOX_ACK, seq: this.lastSeqValue }));
  }

  private onLinkClosed(): void {
    this.link = undefined;
    if (this.state === 'closed') return;
    if (this.state === 'reconnecting') {
      // The link of a reconnect attempt closed: fail its RESUME; the running reconnect loop goes on.
      this.failPending((p) => p.sent && !p.resend, 'DISCONNECTED', 'connection lost before the reply');
      return;
    }
    this.stopTimers();
    this.emit('disconnected');
    // Only sends are safe to repeat; every other request in flight fails.
    this.failPending((p) => p.sent && !p.resend, 'DISCONNECTED', 'connection lost before the reply');
    if (this.options.reconnect === false || this.token === undefined) {
      this.state = 'closed';
      this.failPending(() => true, 'DISCONNECTED', 'connection lost');
      return;
    }
    this.state = 'reconnecting';
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    const min = this.options.backoffMinMs ?? 200;
    const max = this.options.backoffMaxMs ?? 10_000;
    for (let attempt = 1; this.state === 'reconnecting'; attempt++) {
      const delayMs = Math.random() * Math.min(max, min * 2 ** (attempt - 1));
      this.emit('reconnecting', { attempt, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.state !== 'reconnecting') return;
      try {
        this.link = await this.open();
      } catch {
        continue;
      }
      if (await this.resume()) return;
    }
  }

  /** Sends RESUME on the fresh link; true when the session is back (or definitively lost). */
  private async resume(): Promise<boolean> {
    const reqId = this.nextReqId++;
    const reply = await new Promise<Record<string, unknown> | undefined>((resolve) => {
      // A link that does not answer RESUME within the silence limit is as dead as a silent one (e.g. a
      // frozen load balancer whose kernel still accepts connections); try a fresh one.
      const timer = setTimeout(
        () => (this.pending.delete(reqId), resolve(undefined)),
        Math.min(this.options.requestTimeoutMs ?? 15_000, this.silenceLimitMs),
      );
      this.pending.set(reqId, {
        frame: {},
        resend: false,
        sent: true,
        timer,
        resolve: (ack) => {
          // Synchronous, like login: replayed messages follow this ack in the same read.
          if (this.state === 'reconnecting') {
            this.applySession(ack, false);
            this.state = 'open';
          }
          resolve(ack);
        },
        reject: (error) => resolve({ errno: error.errno ?? -1, code: error.code, errmsg: error.message }),
      });
      this.link?.send(
        JSON.stringify({
          msgid: RESUME,
          v: 2,
          reqId,
          token: this.token,
          lastSeq: this.lastSeqValue,
          cid: this.cid,
          attempt: ++this.attempt,
        }),
      );
    });
    if (!reply || (this.state !== 'reconnecting' && this.state !== 'open')) {
      this.link?.close();
      return false;
    }
    if (reply.errno !== 0) {
      if (reply.code === 'TOKEN_INVALID') {
        const error = new ClientError('TOKEN_INVALID', String(reply.errmsg), reply.errno as number);
        this.endSession();
        this.emit('session-lost', error);
        return true;
      }
      this.link?.close();
      return false;
    }
    this.startHeartbeat();
    for (const entry of this.pending.values()) if (!entry.sent || entry.resend) this.transmit(entry);
    this.emit('resumed');
    return true;
  }

  private get silenceLimitMs(): number {
    return this.options.silenceTimeoutMs ?? 3 * (this.options.heartbeatMs ?? 15_000);
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeat);
    const interval = this.options.heartbeatMs ?? 15_000;
    const silenceLimit = this.silenceLimitMs;
    this.lastHeardAt = this.clock.now();
    this.heartbeat = setInterval(
      () => {
        // Closing the dead link takes the ordinary path: reconnect, resume, resend unacked sends.
        if (this.clock.now() - this.lastHeardAt > silenceLimit) this.link?.close();
        else this.link?.send(JSON.stringify({ msgid: PING }));
      },
      Math.min(interval, silenceLimit),
    );
    this.heartbeat.unref();
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.ackTimer);
    this.heartbeat = undefined;
    this.ackTimer = undefined;
  }

  private failPending(which: (entry: Pending) => boolean, code: string, message: string): void {
    for (const [reqId, entry] of this.pending) {
      if (!which(entry)) continue;
      this.pending.delete(reqId);
      clearTimeout(entry.timer);
      entry.reject(new ClientError(code, message));
    }
  }
}

function asText(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function toChatMessage(frame: Record<string, unknown>): ChatMessage {
  return {
    mid: frame.mid as number,
    seq: frame.seq as number,
    from: { id: frame.id as number, name: frame.name as string },
    ...(frame.toid === undefined ? {} : { toid: frame.toid as number }),
    ...(frame.groupid === undefined
      ? {}
      : { groupid: frame.groupid as number, groupname: frame.groupname as string }),
    msg: frame.msg as string,
    time: frame.time as string,
    ts: frame.ts as number,
  };
}
