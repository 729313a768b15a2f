/**
 * Ports: the interfaces the chat service needs from storage, the node-to-node bus and presence.
 * The embedded adapters (src/embedded) implement them in memory; src/model (MySQL) and src/redis
 * implement them for a cluster. All adapters pass the contract suites in test/contract.
 */

import type { Telemetry } from './telemetry.js';

export type UserId = number;
export type GroupId = number;
export type GroupRole = 'creator' | 'normal';

export interface UserRecord {
  readonly id: UserId;
  readonly name: string;
  readonly passwordHash: string;
  /** Bumped by "log out everywhere"; session tokens carry it, so that revokes every earlier token. */
  readonly sessionEpoch: number;
  /** The user's setting: friends see them offline, and no presence change of theirs is published. */
  readonly presenceHidden: boolean;
}

export interface UserSummary {
  readonly id: UserId;
  readonly name: string;
}

export interface GroupSummary {
  readonly id: GroupId;
  readonly name: string;
  readonly desc: string;
}

export interface GroupMember extends UserSummary {
  readonly role: GroupRole;
}

export interface GroupWithMembers extends GroupSummary {
  readonly members: readonly GroupMember[];
}

/** Where a message goes: one user, or a group. */
export type Target =
  { readonly kind: 'user'; readonly id: UserId } | { readonly kind: 'group'; readonly id: GroupId };

export interface MessageDraft {
  readonly senderId: UserId;
  readonly target: Target;
  readonly body: string;
  /** The `time` string an old client put in the message, or the server's formatted time. */
  readonly clientTime: string;
  /** Client message id; (senderId, cmid) identifies a send, so a resend is stored once. */
  readonly cmid: string | null;
}

export interface StoredMessage extends MessageDraft {
  /** Server-assigned id, increasing over time across the whole store. */
  readonly id: number;
  readonly senderName: string;
  /** Set on group messages. */
  readonly groupName?: string | undefined;
  /** Server time, ms since the epoch. */
  readonly createdAt: number;
}

/**
 * A stored message from its draft, always in one object shape (groupName undefined on 1:1 messages). Built
 * field by field on purpose: the spread-based version (`{ ...draft, …, ...(group ? { groupName } : {}) }`)
 * made V8 build slow dictionary-mode objects and cost ~3.5× as much per append.
 */
export function storedMessage(
  draft: MessageDraft,
  id: number,
  senderName: string,
  groupName: string | undefined,
  createdAt: number,
): StoredMessage {
  return {
    senderId: draft.senderId,
    target: draft.target,
    body: draft.body,
    clientTime: draft.clientTime,
    cmid: draft.cmid,
    id,
    senderName,
    groupName,
    createdAt,
  };
}

/** One message in one user's inbox, at that user's sequence number (1, 2, 3, … with no gaps). */
export interface InboxEntry {
  readonly seq: number;
  readonly message: StoredMessage;
}

export interface Delivery {
  readonly userId: UserId;
  readonly seq: number;
}

export interface AppendResult {
  readonly message: StoredMessage;
  /** The inbox positions written; empty when the send was a duplicate (same sender and cmid). */
  readonly deliveries: readonly Delivery[];
  readonly duplicate: boolean;
}

export interface InboxCursor {
  /** Highest sequence the device confirmed; everything above it is undelivered to that device. */
  readonly ackedSeq: number;
  /** Highest sequence written to the inbox. */
  readonly lastSeq: number;
}

/**
 * One installation of a client (chosen by v2 clients, stable per installation; 1–64 characters of
 * `[A-Za-z0-9._:-]`). Every device of a user receives the user's whole inbox and acks it on its own.
 */
export type DeviceId = string;
/** v1 connections are one device per account, named so (a v1 login takes over only the earlier v1 one). */
export const V1_DEVICE: DeviceId = 'v1';
/** v2 clients that name no device share this one (they take each other over, as before devices existed). */
export const DEFAULT_DEVICE: DeviceId = 'default';

/** A device's position when it opens a session (`MessageStore.openDevice`). */
export interface DeviceCursor extends InboxCursor {
  /**
   * The device was new, or inactive longer than the retention window: it starts at the oldest position
   * still kept for the user's active devices (its acked position moved there), and what it missed before
   * that is only in history. False for a device that returns within the window.
   */
  readonly reset: boolean;
  /** Bumped by this device's logout; its session tokens carry it, so logout revokes them. */
  readonly epoch: number;
  /** Devices of the user active within the retention window, this one included. */
  readonly activeDevices: number;
}

export interface UserStore {
  /** Throws AppError USER_EXISTS when the name is taken (names compare case-insensitively). */
  create(name: string, passwordHash: string): Promise<UserRecord>;
  findById(id: UserId): Promise<UserRecord | undefined>;
  findByName(name: string): Promise<UserRecord | undefined>;
  findSummaries(ids: readonly UserId[]): Promise<UserSummary[]>;
  /** Increments and returns the session epoch (revokes outstanding session tokens of every device). */
  bumpSessionEpoch(id: UserId): Promise<number>;
  /** Stores the user's presence setting (see UserRecord.presenceHidden). */
  setPresenceHidden(id: UserId, hidden: boolean): Promise<void>;
}

export interface FriendStore {
  /** Makes a and b friends of each other; false when they already were. */
  add(a: UserId, b: UserId): Promise<boolean>;
  list(userId: UserId): Promise<UserSummary[]>;
}

export interface GroupStore {
  /** Creates the group with the creator as its `creator` member. Throws GROUP_EXISTS on a taken name. */
  create(creatorId: UserId, name: string, desc: string): Promise<GroupSummary>;
  find(id: GroupId): Promise<GroupSummary | undefined>;
  /** Adds a `normal` member; false when already a member. */
  addMember(groupId: GroupId, userId: UserId): Promise<boolean>;
  isMember(groupId: GroupId, userId: UserId): Promise<boolean>;
  memberIds(groupId: GroupId): Promise<UserId[]>;
  listForUser(userId: UserId): Promise<GroupWithMembers[]>;
}

export interface HistoryQuery {
  readonly userId: UserId;
  readonly target: Target;
  /** Only messages with a smaller id (paging backwards); undefined starts at the newest. */
  readonly beforeId: number | undefined;
  readonly limit: number;
}

export interface MessageStore {
  /**
   * Stores the message and appends it to every recipient's inbox atomically (one transaction), giving
   * each recipient the next sequence number of their inbox. Idempotent per (senderId, cmid).
   */
  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult>;
  /** Inbox entries with seq > afterSeq, ascending, at most `limit`. */
  readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]>;
  /**
   * Registers the device (or marks it active again) at the start of a session and returns its position.
   * A new device, or one inactive for longer than the store's device retention, starts at the user's
   * floor (see DeviceCursor.reset). Inbox rows are pruned only below the floor: the lowest acked position
   * among the devices active within the retention window — and never while the user has no active device,
   * so a user away for months still gets every message.
   */
  openDevice(userId: UserId, device: DeviceId): Promise<DeviceCursor>;
  cursor(userId: UserId, device: DeviceId): Promise<InboxCursor>;
  /** Moves the device's acked position forward to min(seq, lastSeq), never back; marks the device active. */
  ack(userId: UserId, device: DeviceId, seq: number): Promise<void>;
  /** Increments and returns the device's token epoch (logout of that device). */
  bumpDeviceEpoch(userId: UserId, device: DeviceId): Promise<number>;
  /** Messages of a conversation, newest first. For a user target: messages between query.userId and target.id. */
  history(query: HistoryQuery): Promise<StoredMessage[]>;
}

/** A user's read position in one conversation: everything up to message id `upTo` was read. */
export interface ReadMarker {
  readonly userId: UserId;
  readonly upTo: number;
}

/** One row of a user's conversation list. `target` is the peer (1:1) or the group. */
export interface ConversationSummary {
  readonly target: Target;
  /** The peer's or the group's name. */
  readonly name: string;
  /** The newest message of the conversation. */
  readonly last: StoredMessage;
  /** The user's own read marker (0: nothing read). */
  readonly readUpTo: number;
  /** Messages from others after readUpTo, counted up to UNREAD_COUNT_CAP (then it says the cap). */
  readonly unread: number;
  /** 1:1 only: the peer's read marker (what the user's own messages were read up to). */
  readonly peerReadUpTo?: number | undefined;
}

/** Unread counts stop here ("999+"): counting is a range scan, bounded on purpose. */
export const UNREAD_COUNT_CAP = 999;

export interface ConversationPage {
  readonly items: readonly ConversationSummary[];
  /** More conversations exist with an older last message (page on with the last item's `last.id`). */
  readonly more: boolean;
}

/** Read markers and the conversation list. */
export interface ReadStore {
  /**
   * Moves the user's marker in the conversation (a 1:1 with target.id, or a group) forward to messageId,
   * clamped to the conversation's newest message id; never backwards. Resolves to the marker afterwards
   * (0 when the conversation has no messages). Membership is the caller's check.
   */
  markRead(userId: UserId, target: Target, messageId: number): Promise<number>;
  /**
   * Lists the 1:1 conversation between `a` and `b` for both (a marker at 0 where none exists), so a
   * conversation with someone who is not a friend shows in both lists. Idempotent; markers never move back.
   */
  listPair(a: UserId, b: UserId): Promise<void>;
  /** The markers above 0 of the conversation's participants (1:1: both sides; group: members). */
  markers(userId: UserId, target: Target): Promise<ReadMarker[]>;
  /**
   * The user's conversations that have messages — with friends, in the user's groups, and any other
   * conversation the user has a read marker in (see listPair) — newest last message first. `beforeId` (a last message id
   * from the previous page) pages on; `limit` ≥ 1.
   */
  conversations(userId: UserId, beforeId: number | undefined, limit: number): Promise<ConversationPage>;
}

/** All storage the service needs; one implementation per backend. */
export interface ChatStore {
  readonly users: UserStore;
  readonly friends: FriendStore;
  readonly groups: GroupStore;
  readonly messages: MessageStore;
  readonly reads: ReadStore;
  /** Gauges for metrics (e.g. connection pool sizes); absent when the store has none. */
  stats?(): Readonly<Record<string, number>>;
  /** Reports the store's internal timings (MySQL: each append batch) to `telemetry`; absent when none. */
  observe?(telemetry: Telemetry): void;
  close(): Promise<void>;
}

/** A user's visible presence: `hidden` users read as offline with no `lastSeen`. */
export interface PresenceView {
  readonly state: 'online' | 'offline';
  /** When the user's last device left (ms since the epoch); null while online or when unknown/hidden. */
  readonly lastSeen: number | null;
}

/** Events exchanged between nodes, always addressed to one user (`userId`: the recipient). */
export type BusEvent =
  | {
      readonly type: 'deliver';
      readonly userId: UserId;
      readonly seq: number;
      readonly message: StoredMessage;
    }
  /** A newer session of this user's `device` started; every other session of that device must close. */
  | {
      readonly type: 'kick';
      readonly userId: UserId;
      readonly device: DeviceId;
      readonly sessionId: string;
      readonly origin?: SessionOrigin | undefined;
    }
  /** The user's inbox changed but the exact event may have been lost: catch up from the store. */
  | { readonly type: 'sync'; readonly userId: UserId }
  /** The user now has several active devices: their own sends must be copied to their inbox too. */
  | { readonly type: 'devices'; readonly userId: UserId }
  /** A friend's (`subject`'s) visible presence changed. */
  | {
      readonly type: 'presence';
      readonly userId: UserId;
      readonly subject: UserId;
      readonly view: PresenceView;
    }
  /** `from` is typing to the user (target: the user themself) or in a group the user is in. */
  | {
      readonly type: 'typing';
      readonly userId: UserId;
      readonly from: UserId;
      readonly target: Target;
      readonly state: 'start' | 'stop';
    }
  /**
   * `reader` read the conversation up to message `upTo`. Sent to the reader's own devices (target as the
   * reader sees it) and, for 1:1, to the peer (target: the reader) as a receipt.
   */
  | {
      readonly type: 'read';
      readonly userId: UserId;
      readonly reader: UserId;
      readonly target: Target;
      readonly upTo: number;
      /** The reader's device that marked (it already knows; the reader's other devices are told). */
      readonly device?: DeviceId | undefined;
    };

/**
 * The fast path between nodes. At-most-once: the inboxes are the truth, so a lost event only delays
 * delivery until the next catch-up. Subscriptions are reference-counted per user.
 */
export interface MessageBus {
  publish(events: readonly BusEvent[]): Promise<void>;
  subscribe(userId: UserId): Promise<void>;
  unsubscribe(userId: UserId): Promise<void>;
  /**
   * The user (subscribed here) is known to have no session on any other node: until `shareUser` or their
   * last subscription here ends, the bus may keep their events on this node (one Redis publish fewer per
   * event for the common one-device user). Without it, a subscribed user's events go to other nodes too.
   */
  keepLocal(userId: UserId): void;
  /** The user may have sessions on other nodes (another device appeared): undoes `keepLocal`. */
  shareUser(userId: UserId): void;
  /** The one consumer of events for this node. */
  setHandler(handler: (event: BusEvent) => void): void;
  /** Called after the bus lost events (e.g. reconnected): every local session must catch up from its inbox. */
  onResync(listener: () => void): void;
  /** Counters for metrics: users subscribed here, events published and received, publish failures. */
  stats(): {
    readonly subscriptions: number;
    readonly published: number;
    readonly received: number;
    readonly publishFailures: number;
  };
  close(): Promise<void>;
}

/** What `Presence.attach` decided. */
export type AttachOutcome =
  /** The session holds the device's lease (when Redis is away: will hold it once the heartbeat writes). */
  | 'attached'
  /** Refused: the device's lease holder is a newer connection attempt of the same client instance. */
  | 'stale'
  /** Refused: the user already has `maxDevices` other devices online. */
  | 'too-many-devices';

export interface PresenceAttach {
  readonly origin?: SessionOrigin | undefined;
  /** The user's presence setting, read at login: a hidden user's changes are not reported. */
  readonly hidden: boolean;
  /** Live devices allowed per user (this one included). */
  readonly maxDevices: number;
}

/** A visible presence change, reported by exactly one node of the cluster. */
export interface PresenceChange {
  readonly userId: UserId;
  readonly view: PresenceView;
}

/**
 * Who is online, across the cluster: one lease per (user, device), held by that device's session. A user is
 * online while any device's lease is live.
 */
export interface Presence {
  /**
   * Makes the session the device's lease holder. Checked and written in one step cluster-wide, so two
   * attempts racing on two nodes cannot both pass the checks (see AttachOutcome).
   */
  attach(
    userId: UserId,
    device: DeviceId,
    sessionId: string,
    options: PresenceAttach,
  ): Promise<AttachOutcome>;
  /** Releases the device's lease if this session still holds it. */
  detach(userId: UserId, device: DeviceId, sessionId: string): Promise<void>;
  /** The users among `userIds` that are visibly online (hidden users are not). */
  onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>>;
  /** Visible presence of each of `userIds`. */
  viewsOf(userIds: readonly UserId[]): Promise<Map<UserId, PresenceView>>;
  /** Changes the user's presence setting for their live leases (reports the visible change, if any). */
  setHidden(userId: UserId, hidden: boolean): Promise<void>;
  /**
   * Reports every visible change once, on one node: first device in, last device out, the last lease
   * expiring (a node died; within the lease TTL plus a sweep interval), hiding and unhiding while online.
   */
  onChange(handler: (change: PresenceChange) => void): void;
  /**
   * Called when a session of this node turns out to have been replaced elsewhere without this node
   * hearing the takeover (say it was cut off from the bus meanwhile): the session must end.
   */
  onSuperseded?(handler: (userId: UserId, device: DeviceId, sessionId: string) => void): void;
  close(): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

/**
 * Which client instance (`cid`, chosen by the client) and which of its connection attempts started a
 * session. Passed along with a takeover so a client can tell a real takeover (another device) from a stale
 * reconnect attempt of its own that reached a node late (e.g. from a frozen load balancer's backlog).
 */
export interface SessionOrigin {
  readonly cid: string;
  readonly attempt: number;
}
