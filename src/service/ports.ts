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
  /** Bumped by logout; session tokens carry it, so logout revokes every earlier token. */
  readonly sessionEpoch: number;
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
  /** Highest sequence the user confirmed; everything above it is undelivered. */
  readonly ackedSeq: number;
  /** Highest sequence written to the inbox. */
  readonly lastSeq: number;
}

export interface UserStore {
  /** Throws AppError USER_EXISTS when the name is taken (names compare case-insensitively). */
  create(name: string, passwordHash: string): Promise<UserRecord>;
  findById(id: UserId): Promise<UserRecord | undefined>;
  findByName(name: string): Promise<UserRecord | undefined>;
  findSummaries(ids: readonly UserId[]): Promise<UserSummary[]>;
  /** Increments and returns the session epoch (revokes outstanding session tokens). */
  bumpSessionEpoch(id: UserId): Promise<number>;
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
  cursor(userId: UserId): Promise<InboxCursor>;
  /** Moves the acked cursor forward to min(seq, lastSeq); never backwards. */
  ack(userId: UserId, seq: number): Promise<void>;
  /** Messages of a conversation, newest first. For a user target: messages between query.userId and target.id. */
  history(query: HistoryQuery): Promise<StoredMessage[]>;
}

/** All storage the service needs; one implementation per backend. */
export interface ChatStore {
  readonly users: UserStore;
  readonly friends: FriendStore;
  readonly groups: GroupStore;
  readonly messages: MessageStore;
  /** Gauges for metrics (e.g. connection pool sizes); absent when the store has none. */
  stats?(): Readonly<Record<string, number>>;
  /** Reports the store's internal timings (MySQL: each append batch) to `telemetry`; absent when none. */
  observe?(telemetry: Telemetry): void;
  close(): Promise<void>;
}

/** Events exchanged between nodes, always addressed to one user. */
export type BusEvent =
  | {
      readonly type: 'deliver';
      readonly userId: UserId;
      readonly seq: number;
      readonly message: StoredMessage;
    }
  /** A newer session of this user started; every other session of the user must close. */
  | {
      readonly type: 'kick';
      readonly userId: UserId;
      readonly sessionId: string;
      readonly origin?: SessionOrigin | undefined;
    }
  /** The user's inbox changed but the exact event may have been lost: catch up from the store. */
  | { readonly type: 'sync'; readonly userId: UserId };

/**
 * The fast path between nodes. At-most-once: the inboxes are the truth, so a lost event only delays
 * delivery until the next catch-up. Subscriptions are reference-counted per user.
 */
export interface MessageBus {
  publish(events: readonly BusEvent[]): Promise<void>;
  subscribe(userId: UserId): Promise<void>;
  unsubscribe(userId: UserId): Promise<void>;
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

/** Who is online, across the cluster. */
export interface Presence {
  /**
   * Makes the session the user's lease holder. Resolves false, writing nothing, when the holder anywhere in
   * the cluster is a newer connection attempt of the same client instance (`origin.cid`): the caller is a
   * stale reconnect attempt. Checked and written in one step, so two attempts racing on two nodes cannot
   * both pass the check. When the lease cannot be written now (Redis away) it resolves true and the
   * heartbeat writes it later.
   */
  attach(userId: UserId, sessionId: string, origin?: SessionOrigin): Promise<boolean>;
  detach(userId: UserId, sessionId: string): Promise<void>;
  onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>>;
  /**
   * Called when a session of this node turns out to have been replaced elsewhere without this node
   * hearing the takeover (say it was cut off from the bus meanwhile): the session must end.
   */
  onSuperseded?(handler: (userId: UserId, sessionId: string) => void): void;
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
