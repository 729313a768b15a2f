import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../util/clock.js';
import { type ClientLink, type Endpoint, openLink } from './client-transport.js';
import {
  asText,
  type ChatMessage,
  type ConversationSummary,
  conversationOf,
  type FriendInfo,
  type GroupInfo,
  type HistoryMessage,
  isId,
  type Presence,
  type ReadEvent,
  type Settings,
  toChatMessage,
  toPresence,
  toSummary,
  type TypingEvent,
} from './client-types.js';
import { type DeviceStore, resolveDevice } from './device-id.js';
import {
  type ClientTimers,
  type Conversation,
  conversationKey,
  globalTimers,
  TypingHints,
  TypingThrottle,
} from './typing-state.js';

export type { Conversation, ClientTimers } from './typing-state.js';
export type {
  ChatMessage,
  ConversationSummary,
  FriendInfo,
  GroupInfo,
  HistoryMessage,
  Presence,
  ReadEvent,
  Settings,
  TypingEvent,
} from './client-types.js';
export { conversationOf } from './client-types.js';
export type { DeviceStore } from './device-id.js';

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
const PRESENCE = 30;
const TYPING = 31;
const READ = 32;
const READ_MARKERS = 33;
const CONVERSATIONS = 35;
const SETTINGS = 37;

/** How long a typing hint holds when the server names no expiry (docs/PROTOCOL.md, "Typing"). */
const DEFAULT_TYPING_EXPIRY_MS = 6000;

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
  /**
   * The server's MAX_FRAME_BYTES: a request larger than this is refused here (PAYLOAD_TOO_LARGE) instead of
   * being sent — the server would close the connection, and a send resent after the reconnect would loop.
   * @default 65536
   */
  readonly maxFrameBytes?: number;
  /** Acks of received messages are coalesced for this long. @default 25 */
  readonly ackDelayMs?: number;
  /** Measures the silence of a link, typing throttles and expiries. @default systemClock */
  readonly clock?: Clock;
  /**
   * This installation's device name (1–64 of `A-Z a-z 0-9 . _ : -`), sent with login, register and resume.
   * Sessions of one user on different devices coexist; a login on the same device takes the older one over.
   * @default the name in `deviceStore`, else a new `<host>-<random>` saved there
   */
  readonly device?: string;
  /**
   * Where a generated device name is kept between runs.
   * @default the file `$XDG_CONFIG_HOME/parley/device` (else `~/.config/parley/device`), read once per process
   */
  readonly deviceStore?: DeviceStore;
  /** A held-down key sends typing `start` at most this often per conversation. @default 3000 */
  readonly typingRefreshMs?: number;
  /** Timers for the expiry of others' typing hints. @default the global setTimeout/clearTimeout */
  readonly timers?: ClientTimers;
}

/** A failed request: `code` is the server's catalog code, or DISCONNECTED / TIMEOUT / CLOSED locally. */
/** The server's default MAX_FRAME_BYTES. */
const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
const utf8 = new TextEncoder();

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
  /** The session ended: another login of this device took over (`by`), or another device logged out everywhere. */
  kicked: [by?: { cid: string; attempt: number }, everywhere?: boolean];
  disconnected: [];
  reconnecting: [{ attempt: number; delayMs: number }];
  resumed: [];
  /** The session could not be resumed (token revoked or expired); closed and logged out, as after `kicked`. */
  'session-lost': [ClientError];
  /** The server is draining and will close this connection. */
  notice: [{ code: string; reconnectInMs: number }];
  /** A friend came online or went offline (pushed once per change of the user, not per device). */
  presence: [Presence];
  /** A typing notification arrived (every one, refreshes included; see `typingChanged` for a UI). */
  typing: [TypingEvent];
  /** The set of users typing in a conversation changed: a start, a stop, an expiry, or their message. */
  typingChanged: [{ target: Conversation; typers: readonly number[] }];
  /** A read marker moved: on another device of this user, or a peer's receipt. */
  read: [ReadEvent];
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
/** Own sends remembered to recognise their echoes (by cmid and by mid). */
const OWN_SENDS = 1000;

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
  /** The device sent with login/register; a resume continues the device of the session's token. */
  readonly device: string;
  private sessionDevice: string | undefined;
  private resetValue = false;
  private readonly presenceById = new Map<number, Presence>();
  private loginFriendsValue: (Presence & { readonly name: string })[] = [];
  private readonly typingHints: TypingHints;
  private readonly typingThrottle: TypingThrottle;
  /** cmids and mids of this instance's sends, to recognise their echoes. */
  private readonly ownCmids = new Set<string>();
  private readonly ownMids = new Set<number>();
  /** Markers this device set (conversation key → mid), so their echoes are not taken for other devices'. */
  private readonly ownMarks = new Map<string, number>();
  /** A logout of every device is in flight: the KICKED it may bring is not a takeover. */
  private endingEverywhere = false;
  /** Messages dropped as duplicates (kept for tests and benchmarks). */
  duplicatesDropped = 0;
  /** Holes in the pushed sequence that were repaired by resuming (should stay 0). */
  gapsRepaired = 0;

  private readonly clock: Clock;

  constructor(private readonly options: ParleyClientOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.device = resolveDevice(options.device, options.deviceStore);
    this.typingHints = new TypingHints(options.timers ?? globalTimers, (target, typers) =>
      this.emit('typingChanged', { target, typers }),
    );
    this.typingThrottle = new TypingThrottle(this.clock, options.typingRefreshMs ?? 3000);
  }

  /**
   * True when the last login started this device afresh (new, or away longer than the retention): what it
   * missed before is in `history`, not in the inbox.
   */
  get reset(): boolean {
    return this.resetValue;
  }

  /** Friends with their presence as the login reply listed them (empty from servers without presence). */
  get loginFriends(): readonly (Presence & { readonly name: string })[] {
    return this.loginFriendsValue;
  }

  /** The last known presence of a user: from the login reply, `friends()`, and pushed changes. */
  presenceOf(id: number): Presence | undefined {
    return this.presenceById.get(id);
  }

  /** Users typing in a conversation now (hints expire by themselves), in the order they started. */
  typingNow(target: Conversation): number[] {
    return this.typingHints.who(target);
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
    const reply = await this.request({ msgid: REG, v: 2, name, password, device: this.device });
    return reply.id as number;
  }

  /** Logs in by id or name; messages after the last acked one start arriving right after. */
  async login(
    who: { id: number } | { name: string },
    password: string,
  ): Promise<{ id: number; name: string }> {
    await this.request({ msgid: LOGIN, v: 2, ...who, password, cid: this.cid, device: this.device });
    return this.userValue!;
  }

  /** Sends a 1:1 message; resolves with the server message id once it is stored. */
  async sendTo(toid: number, msg: string, cmid: string = randomUUID()): Promise<number> {
    this.typingThrottle.reset({ with: toid });
    return this.sendOwn({ msgid: ONE_CHAT, toid, msg, cmid }, cmid);
  }

  async sendToGroup(groupid: number, msg: string, cmid: string = randomUUID()): Promise<number> {
    this.typingThrottle.reset({ groupid });
    return this.sendOwn({ msgid: GROUP_CHAT, groupid, msg, cmid }, cmid);
  }

  /** A send whose echo (on a user with several devices) is recognised by its cmid, or by its mid. */
  private async sendOwn(frame: Record<string, unknown>, cmid: string): Promise<number> {
    remember(this.ownCmids, cmid);
    const mid = (await this.send(frame)).mid as number;
    remember(this.ownMids, mid);
    return mid;
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

  /** Friends with their presence (which `presenceOf` then knows too). */
  async friends(): Promise<FriendInfo[]> {
    const friends = (await this.request({ msgid: FRIEND_LIST })).friends as FriendInfo[];
    this.applyFriends(friends, 'list');
    return friends;
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

  /**
   * Tells a conversation's other side that this user is typing (`start`, repeated while typing goes on)
   * or stopped. Throttled: a `start` goes out at most once per `typingRefreshMs` per conversation, a
   * `stop` only after a `start`, and nothing while disconnected (hints are not worth queueing). Resolves
   * true when a notification was sent (and acknowledged); rejects with the server's refusal
   * (`NOT_FRIENDS`, `NOT_MEMBER`, `RATE_LIMITED`).
   */
  async typing(target: Conversation, state: 'start' | 'stop' = 'start'): Promise<boolean> {
    if (this.state !== 'open' || this.userValue === undefined) return false;
    if (!this.typingThrottle.admit(target, state)) return false;
    const where = 'groupid' in target ? { groupid: target.groupid } : { to: target.with };
    await this.request({ msgid: TYPING, ...where, state });
    return true;
  }

  /**
   * Marks a conversation read up to message `upTo` (a mid). The marker only moves forward; resolves with
   * where it is now. The user's other devices and (1:1) the peer hear of it.
   */
  async markRead(target: Conversation, upTo: number): Promise<{ target: Conversation; upTo: number }> {
    const key = conversationKey(target);
    const marked = Math.max(upTo, this.ownMarks.get(key) ?? 0);
    this.ownMarks.delete(key);
    this.ownMarks.set(key, marked);
    if (this.ownMarks.size > OWN_SENDS) this.ownMarks.delete(this.ownMarks.keys().next().value!);
    const reply = await this.request({ msgid: READ, ...target, upTo });
    return { target, upTo: reply.upTo as number };
  }

  /** Read markers of a conversation: each member's (group) or both sides' (1:1). */
  async readMarkers(target: Conversation): Promise<{ id: number; upTo: number }[]> {
    const reply = await this.request({ msgid: READ_MARKERS, ...target });
    return (reply.markers as { id: number; upTo: number }[]).map(({ id, upTo }) => ({ id, upTo }));
  }

  /** The user's conversations, newest first, with unread counts; `before` (a `last.mid`) pages on. */
  async conversations(
    page: { before?: number; limit?: number } = {},
  ): Promise<{ conversations: ConversationSummary[]; more: boolean }> {
    const reply = await this.request({
      msgid: CONVERSATIONS,
      ...(page.before === undefined ? {} : { before: page.before }),
      ...(page.limit === undefined ? {} : { limit: page.limit }),
    });
    return {
      conversations: (reply.conversations as Record<string, unknown>[]).map(toSummary),
      more: reply.more === true,
    };
  }

  /** Hides this user's presence from friends (they see them offline) or shows it again; on every device. */
  async setPresence(presence: 'hidden' | 'visible'): Promise<Settings> {
    const reply = await this.request({ msgid: SETTINGS, presence });
    return { presence: reply.presence === 'hidden' ? 'hidden' : 'visible' };
  }

  async getSettings(): Promise<Settings> {
    const reply = await this.request({ msgid: SETTINGS });
    return { presence: reply.presence === 'hidden' ? 'hidden' : 'visible' };
  }

  /**
   * Logs out (revoking this device's tokens); the connection stays open for another login. `everywhere`
   * revokes every device's tokens and ends every session of the account (the others get `KICKED`).
   */
  async logout(options: { everywhere?: boolean } = {}): Promise<void> {
    this.flushAck();
    this.endingEverywhere = options.everywhere === true;
    try {
      await this.request({ msgid: LOGINOUT, ...(options.everywhere ? { everywhere: true } : {}) });
    } catch (error) {
      // Ending every session may end this connection too before its ACK: that is the logout done.
      const lost = error instanceof ClientError && error.code === 'DISCONNECTED';
      if (!(lost && this.endingEverywhere)) throw error;
    } finally {
      this.endingEverywhere = false;
    }
    this.forgetSession();
  }

  /** What belongs to the logged-in session only. */
  private forgetSession(): void {
    this.token = undefined;
    this.userValue = undefined;
    this.sessionDevice = undefined;
    this.typingHints.clear();
    this.typingThrottle.clear();
    this.ownMarks.clear();
  }

  /** Closes for good: no reconnect; pending requests fail with CLOSED. */
  close(): void {
    if (this.state === 'closed') return;
    this.flushAck();
    this.state = 'closed';
    this.stopTimers();
    this.typingHints.clear();
    this.failPending((p) => !!p, 'CLOSED', 'client closed');
    // Gracefully, so the ack just flushed reaches the server (else the next login shows it all again).
    this.link?.end();
    this.link = undefined;
  }

  /** The session is over for good (taken over, or not resumable): closed, and no longer logged in. */
  private endSession(): void {
    this.close();
    this.forgetSession();
  }

  /** Cuts the connection as a network failure would (tests and benchmarks use it); reconnects if enabled. */
  dropConnection(): void {
    this.link?.close();
  }

  private request(frame: Record<string, unknown>, resend = false): Promise<Record<string, unknown>> {
    if (this.state === 'closed' || this.state === 'idle')
      return Promise.reject(new ClientError('CLOSED', 'not connected'));
    const reqId = this.nextReqId++;
    const framed = { ...frame, reqId };
    // +1: the newline that ends a TCP frame.
    const bytes = utf8.encode(JSON.stringify(framed)).length + 1;
    const limit = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (bytes > limit)
      return Promise.reject(
        new ClientError(
          'PAYLOAD_TOO_LARGE',
          `request is ${bytes} bytes, over the server's frame limit of ${limit} bytes (nothing was sent)`,
        ),
      );
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
      const entry: Pending = { frame: framed, resend, sent: false, timer, resolve, reject };
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
        if (this.endingEverywhere || this.token === undefined) {
          // Our own logout of every device ended this session too (or none was left): not a takeover.
          this.forgetSession();
          break;
        }
        const by = frame.by as { cid?: unknown; attempt?: unknown } | undefined;
        if (by?.cid === this.cid && typeof by.attempt === 'number' && by.attempt < this.attempt) {
          // An earlier reconnect attempt of ours reached a node late (say, from a frozen load balancer's
          // backlog) and displaced this session. Not a takeover: the server closes this link, and the
          // ordinary reconnect resumes with a newer attempt, which displaces the stale one in turn.
          break;
        }
        this.endSession();
        this.emit('kicked', by as { cid: string; attempt: number } | undefined, frame.everywhere === true);
        break;
      }
      case SERVER_NOTICE:
        this.emit('notice', { code: String(frame.code), reconnectInMs: Number(frame.reconnectInMs) || 0 });
        break;
      case PRESENCE: {
        const presence = toPresence(frame);
        if (presence === undefined) break;
        this.presenceById.set(presence.id, presence);
        this.emit('presence', presence);
        break;
      }
      case TYPING:
        this.onTyping(frame);
        break;
      case READ:
        this.onRead(frame);
        break;
      default:
        break;
    }
  }

  private onTyping(frame: Record<string, unknown>): void {
    const from = frame.from;
    if (!isId(from) || from === this.userValue?.id) return;
    const target: Conversation = isId(frame.groupid) ? { groupid: frame.groupid } : { with: from };
    const state = frame.state === 'stop' ? 'stop' : 'start';
    const ms =
      typeof frame.expiresInMs === 'number' && frame.expiresInMs > 0
        ? Math.min(frame.expiresInMs, 60_000)
        : DEFAULT_TYPING_EXPIRY_MS;
    const now = this.clock.now();
    this.emit('typing', { from, target, state, expiresAt: state === 'stop' ? now : now + ms });
    if (state === 'stop') this.typingHints.stop(from, target);
    else this.typingHints.start(from, target, ms);
  }

  private onRead(frame: Record<string, unknown>): void {
    const { reader, upTo } = frame;
    if (!isId(reader) || typeof upTo !== 'number') return;
    let target: Conversation;
    if (isId(frame.groupid)) target = { groupid: frame.groupid };
    else if (isId(frame.with)) target = { with: frame.with };
    else return;
    const kind = reader === this.userValue?.id ? 'own' : 'receipt';
    // This device's own mark coming back is no news (only other devices' reads are).
    if (kind === 'own' && upTo <= (this.ownMarks.get(conversationKey(target)) ?? 0)) return;
    this.emit('read', { kind, reader, target, upTo });
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
    this.sessionDevice =
      typeof reply.device === 'string' ? reply.device : (this.sessionDevice ?? this.device);
    if (fresh) {
      this.resetValue = reply.reset === true;
      this.loginFriendsValue = [];
    }
    this.applyFriends(reply.friends, fresh ? 'login' : 'resume');
    const acked = reply.ackedSeq as number;
    if (fresh) {
      this.lastSeqValue = acked;
      this.ackedSent = acked;
    } else if (reply.reset === true) {
      // Away longer than the server keeps a device's place: it restarted at the oldest message still
      // kept, and what came before is in history. Continue from there instead of waiting for a hole to fill.
      this.resetValue = true;
      this.lastSeqValue = Math.max(this.lastSeqValue, acked);
      this.ackedSent = Math.max(this.ackedSent, acked);
    } else {
      this.ackedSent = Math.max(this.ackedSent, acked);
    }
  }

  /**
   * Friends' states from a login or resume reply or the friend list. After a resume the changes missed
   * while away are emitted as presence events (a reply that lists none changes nothing).
   */
  private applyFriends(list: unknown, from: 'login' | 'resume' | 'list'): void {
    if (!Array.isArray(list)) return;
    const friends = list.flatMap((item: Record<string, unknown>) => {
      const presence = toPresence(item);
      return presence === undefined ? [] : [{ ...presence, name: asText(item.name, '') }];
    });
    if (from === 'login') this.loginFriendsValue = friends;
    for (const { name: _name, ...presence } of friends) {
      const before = this.presenceById.get(presence.id);
      this.presenceById.set(presence.id, presence);
      if (from === 'resume' && before?.state !== presence.state) this.emit('presence', presence);
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
    const own = message.own === true || message.from.id === this.userValue?.id;
    if (own && this.isOwnSend(message)) message = { ...message, own: true, echoOfOwnSend: true };
    // Their message ends their typing hint there.
    else if (!own) this.typingHints.stop(message.from.id, conversationOf(message, this.userValue?.id));
    this.emit('message', message);
    this.ackTimer ??= setTimeout(() => this.flushAck(), this.options.ackDelayMs ?? 25);
  }

  /** Whether an own message is the echo of a send of this client (the echo may come before the ack). */
  private isOwnSend(message: ChatMessage): boolean {
    if (message.cmid !== undefined && this.ownCmids.has(message.cmid)) return true;
    if (this.ownMids.has(message.mid)) return true;
    // No cmid on the echo and its ack not here yet: match a send in flight by target and text.
    for (const { frame } of this.pending.values()) {
      if (frame.msg !== message.msg) continue;
      if (message.groupid !== undefined ? frame.groupid === message.groupid : frame.toid === message.toid)
        return true;
    }
    return false;
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
          device: this.sessionDevice ?? this.device,
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

/** Adds to a bounded insertion-ordered set, forgetting the oldest beyond OWN_SENDS. */
function remember<T>(set: Set<T>, value: T): void {
  set.add(value);
  if (set.size > OWN_SENDS) set.delete(set.values().next().value!);
}
