import type { Conversation } from './typing-state.js';

// What the client hands its users, and how server frames become it. Frames come from a server and are
// read defensively: a field of the wrong type never throws here.

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
  /** The sender's idempotency key, when the server passes it on (own messages). */
  readonly cmid?: string;
  /** Sent by this user (from another device, or echoed to this one): `toid` is then the peer. */
  readonly own?: true;
  /**
   * This very client sent it (recognised by cmid or mid): the echo every device of a multi-device user
   * gets. Still acked; a UI that showed the send already shows it no second time.
   */
  readonly echoOfOwnSend?: true;
}

/** History entries are not inbox positions, so they carry no seq. */
export type HistoryMessage = Omit<ChatMessage, 'seq'>;

/** A user's presence: online while any of their devices is connected. */
export interface Presence {
  readonly id: number;
  readonly state: 'online' | 'offline';
  /** When their last device left (ms since the epoch); null while online, hidden or unknown. */
  readonly lastSeen: number | null;
}

export interface FriendInfo {
  readonly id: number;
  readonly name: string;
  readonly online: boolean;
  /** Servers with presence (v2, devices) add these. */
  readonly state?: 'online' | 'offline';
  readonly lastSeen?: number | null;
}

/** Someone started or stopped typing in a conversation (as this user sees it: 1:1 is `{with: from}`). */
export interface TypingEvent {
  readonly from: number;
  readonly target: Conversation;
  readonly state: 'start' | 'stop';
  /** When the hint lapses without a refresh (ms since the epoch; now for `stop`). */
  readonly expiresAt: number;
}

/**
 * A read marker moved. `own`: this user read the conversation on another device (unread counts follow);
 * `receipt`: the peer of a 1:1 read what this user sent, up to `upTo`.
 */
export interface ReadEvent {
  readonly kind: 'own' | 'receipt';
  readonly reader: number;
  readonly target: Conversation;
  readonly upTo: number;
}

/** One entry of the conversation list (the home screen of a chat app). */
export interface ConversationSummary {
  readonly target: Conversation;
  /** The peer's or the group's name. */
  readonly name: string;
  readonly last: HistoryMessage | undefined;
  /** This user's read marker (a mid; 0: nothing read). */
  readonly readUpTo: number;
  /** Messages from others after `readUpTo` (the server caps the count at 999). */
  readonly unread: number;
  /** 1:1: how far the peer read. */
  readonly peerReadUpTo?: number;
}

/** Settings stored with the account. */
export interface Settings {
  readonly presence: 'hidden' | 'visible';
}

export interface GroupInfo {
  readonly id: number;
  readonly groupname: string;
  readonly groupdesc: string;
  readonly users: readonly (FriendInfo & { readonly role: 'creator' | 'normal' })[];
}

export function asText(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** The conversation a message belongs to, as `me` sees it: a group, else the other person. */
export function conversationOf(message: ChatMessage | HistoryMessage, me: number | undefined): Conversation {
  if (message.groupid !== undefined) return { groupid: message.groupid };
  const mine = message.own === true || message.from.id === me;
  return { with: mine && message.toid !== undefined ? message.toid : message.from.id };
}

/** A presence frame or friend entry (`state`, or the older `online` flag). */
export function toPresence(frame: Record<string, unknown>): Presence | undefined {
  if (!isId(frame.id)) return undefined;
  const online = frame.state === undefined ? frame.online === true : frame.state === 'online';
  const lastSeen = typeof frame.lastSeen === 'number' ? frame.lastSeen : null;
  return { id: frame.id, state: online ? 'online' : 'offline', lastSeen: online ? null : lastSeen };
}

export function toSummary(item: Record<string, unknown>): ConversationSummary {
  const last = item.last as Record<string, unknown> | null | undefined;
  return {
    target: isId(item.groupid) ? { groupid: item.groupid } : { with: item.with as number },
    name: asText(item.name, ''),
    last: last ? withoutSeq(toChatMessage(last)) : undefined,
    readUpTo: typeof item.readUpTo === 'number' ? item.readUpTo : 0,
    unread: typeof item.unread === 'number' ? item.unread : 0,
    ...(typeof item.peerReadUpTo === 'number' ? { peerReadUpTo: item.peerReadUpTo } : {}),
  };
}

function withoutSeq(message: ChatMessage): HistoryMessage {
  const { seq: _seq, ...rest } = message;
  return rest;
}

export function toChatMessage(frame: Record<string, unknown>): ChatMessage {
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
    ...(typeof frame.cmid === 'string' ? { cmid: frame.cmid } : {}),
    ...(frame.own === true ? { own: true as const } : {}),
  };
}
