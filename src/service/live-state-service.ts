import { AppError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type {
  BusEvent,
  ChatStore,
  ConversationPage,
  DeviceId,
  MessageBus,
  Presence,
  ReadMarker,
  Target,
  UserId,
} from './ports.js';

/** Friend and member lists behind typing notices are this fresh (typing is frequent and never stored). */
const RELATION_CACHE_MS = 10_000;
const RELATION_CACHE_MAX = 20_000;

export type TypingState = 'start' | 'stop';

/**
 * Typing notices, read markers and receipts, the conversation list and the presence setting: the state
 * around messages that makes a chat application feel live. Typing is relayed and forgotten; markers are
 * stored (forward only) and then announced to the reader's other devices and, in a 1:1, to the peer.
 */
export class LiveStateService {
  /** Counters for metrics: typing notices relayed (per recipient), read markers moved. */
  readonly counts = { typing: 0, reads: 0 };
  private readonly friendsOf: TtlCache<UserId, Set<UserId>>;
  private readonly membersOf: TtlCache<number, UserId[]>;

  constructor(
    private readonly store: ChatStore,
    private readonly bus: MessageBus,
    private readonly presence: Presence,
    clock: Clock,
  ) {
    this.friendsOf = new TtlCache(
      async (id) => new Set((await store.friends.list(id)).map((f) => f.id)),
      RELATION_CACHE_MS,
      RELATION_CACHE_MAX,
      clock,
    );
    this.membersOf = new TtlCache(
      (id) => store.groups.memberIds(id),
      RELATION_CACHE_MS,
      RELATION_CACHE_MAX,
      clock,
    );
  }

  /** A friendship made on this node shows at once in typing checks (elsewhere within RELATION_CACHE_MS). */
  friendsChanged(a: UserId, b: UserId): void {
    this.friendsOf.delete(a);
    this.friendsOf.delete(b);
  }

  /** Relays a typing notice to a friend's devices, or to every other member's devices in a group. */
  async typing(from: UserId, target: Target, state: TypingState): Promise<void> {
    let recipients: UserId[];
    if (target.kind === 'user') {
      if (!(await this.friendsOf.get(from)).has(target.id)) throw new AppError('NOT_FRIENDS');
      recipients = [target.id];
    } else {
      const members = await this.membersOf.get(target.id);
      if (!members.includes(from)) {
        this.membersOf.delete(target.id);
        throw new AppError((await this.store.groups.find(target.id)) ? 'NOT_MEMBER' : 'GROUP_NOT_FOUND');
      }
      recipients = members.filter((id) => id !== from);
    }
    const events: BusEvent[] = recipients.map((userId) => ({ type: 'typing', userId, from, target, state }));
    if (events.length > 0) await this.bus.publish(events);
    this.counts.typing += events.length;
  }

  /**
   * Moves the reader's marker forward and announces where it is now: to the reader's devices, and in a 1:1
   * to the peer as a receipt. Resolves to the marker.
   */
  async markRead(reader: UserId, target: Target, upTo: number, device?: DeviceId): Promise<number> {
    await this.checkConversation(reader, target);
    const marker = await this.store.reads.markRead(reader, target, upTo);
    // No message in the conversation, no marker: nothing to tell anyone (and no READ frames to strangers).
    if (marker === 0) return marker;
    this.counts.reads++;
    const events: BusEvent[] = [{ type: 'read', userId: reader, reader, target, upTo: marker, device }];
    if (target.kind === 'user' && target.id !== reader)
      events.push({
        type: 'read',
        userId: target.id,
        reader,
        target: { kind: 'user', id: reader },
        upTo: marker,
      });
    // Best effort, like every bus event: the stored marker is the truth, and lists read it.
    await this.bus.publish(events).catch(() => undefined);
    return marker;
  }

  async markers(userId: UserId, target: Target): Promise<ReadMarker[]> {
    await this.checkConversation(userId, target);
    return this.store.reads.markers(userId, target);
  }

  conversations(userId: UserId, beforeId: number | undefined, limit: number): Promise<ConversationPage> {
    return this.store.reads.conversations(userId, beforeId, limit);
  }

  /** Stores the presence setting and applies it to the user's live leases (friends hear the change). */
  async setPresenceHidden(userId: UserId, hidden: boolean): Promise<void> {
    await this.store.users.setPresenceHidden(userId, hidden);
    await this.presence.setHidden(userId, hidden);
  }

  async presenceHidden(userId: UserId): Promise<boolean> {
    const user = await this.store.users.findById(userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user.presenceHidden;
  }

  /** A 1:1 needs an existing peer; a group, membership. */
  private async checkConversation(userId: UserId, target: Target): Promise<void> {
    if (target.kind === 'user') {
      if (!(await this.store.users.findById(target.id))) throw new AppError('USER_NOT_FOUND');
      return;
    }
    if (!(await this.store.groups.isMember(target.id, userId)))
      throw new AppError((await this.store.groups.find(target.id)) ? 'NOT_MEMBER' : 'GROUP_NOT_FOUND');
  }
}
