import { conversationKey, targetOfKey } from '../service/conversation.js';
import type {
  ConversationPage,
  ConversationSummary,
  ReadMarker,
  ReadStore,
  Target,
  UserId,
} from '../service/ports.js';
import { UNREAD_COUNT_CAP } from '../service/ports.js';
import type { MemoryFriendStore } from './memory-friend-store.js';
import type { MemoryGroupStore } from './memory-group-store.js';
import type { MemoryMessageStore } from './memory-message-store.js';
import type { MemoryUserStore } from './memory-user-store.js';

/** Read markers and the conversation list, over the other memory stores' state. */
export class MemoryReadStore implements ReadStore {
  /** conversation key → reader → read up to (message id); a marker only moves forward. */
  private readonly markersByConversation = new Map<string, Map<UserId, number>>();
  /** reader → conversation keys they have a marker in. */
  private readonly markedBy = new Map<UserId, Set<string>>();

  constructor(
    private readonly users: MemoryUserStore,
    private readonly friends: MemoryFriendStore,
    private readonly groups: MemoryGroupStore,
    private readonly messages: MemoryMessageStore,
  ) {}

  markRead(userId: UserId, target: Target, messageId: number): Promise<number> {
    const key = conversationKey(userId, target);
    const current = this.markersByConversation.get(key)?.get(userId) ?? 0;
    const newest = this.messages.newestIn(key)?.id ?? 0;
    const upTo = Math.min(messageId, newest);
    if (!(upTo > current)) return Promise.resolve(current); // (also when messageId is not a number)
    let markers = this.markersByConversation.get(key);
    if (!markers) this.markersByConversation.set(key, (markers = new Map<UserId, number>()));
    markers.set(userId, upTo);
    let mine = this.markedBy.get(userId);
    if (!mine) this.markedBy.set(userId, (mine = new Set<string>()));
    mine.add(key);
    return Promise.resolve(upTo);
  }

  listPair(a: UserId, b: UserId): Promise<void> {
    const key = conversationKey(a, { kind: 'user', id: b });
    let markers = this.markersByConversation.get(key);
    if (!markers) this.markersByConversation.set(key, (markers = new Map<UserId, number>()));
    for (const userId of [a, b]) {
      if (!markers.has(userId)) markers.set(userId, 0);
      let mine = this.markedBy.get(userId);
      if (!mine) this.markedBy.set(userId, (mine = new Set<string>()));
      mine.add(key);
    }
    return Promise.resolve();
  }

  markers(userId: UserId, target: Target): Promise<ReadMarker[]> {
    const markers =
      this.markersByConversation.get(conversationKey(userId, target)) ?? new Map<UserId, number>();
    return Promise.resolve(
      [...markers]
        .filter(
          ([reader, upTo]) =>
            upTo > 0 && (target.kind === 'user' || this.groups.hasMember(target.id, reader)),
        )
        .sort(([a], [b]) => a - b)
        .map(([reader, upTo]) => ({ userId: reader, upTo })),
    );
  }

  conversations(userId: UserId, beforeId: number | undefined, limit: number): Promise<ConversationPage> {
    const targets = new Map<string, Target>();
    for (const id of this.friends.idsOf(userId)) {
      const target: Target = { kind: 'user', id };
      targets.set(conversationKey(userId, target), target);
    }
    for (const id of this.groups.idsFor(userId)) targets.set(`g:${id}`, { kind: 'group', id });
    for (const key of this.markedBy.get(userId) ?? []) targets.set(key, targetOfKey(userId, key));
    const listed = [...targets]
      .map(([key, target]) => ({ key, target, last: this.messages.newestIn(key) }))
      .filter((c) => c.last !== undefined && (beforeId === undefined || c.last.id < beforeId))
      .sort((a, b) => b.last!.id - a.last!.id);
    const items = listed.slice(0, limit).map(({ key, target, last }): ConversationSummary => {
      const markers = this.markersByConversation.get(key);
      const readUpTo = markers?.get(userId) ?? 0;
      return {
        target,
        name: target.kind === 'user' ? this.users.nameOf(target.id) : this.groups.nameOf(target.id),
        last: last!,
        readUpTo,
        unread: this.unread(key, userId, readUpTo),
        peerReadUpTo: target.kind === 'user' ? (markers?.get(target.id) ?? 0) : undefined,
      };
    });
    return Promise.resolve({ items, more: listed.length > limit });
  }

  /** Messages from others after readUpTo, newest backwards, stopping at the cap. */
  private unread(key: string, userId: UserId, readUpTo: number): number {
    const messages = this.messages.messagesIn(key);
    let count = 0;
    for (let i = messages.length - 1; i >= 0 && count < UNREAD_COUNT_CAP; i--) {
      const message = messages[i]!;
      if (message.id <= readUpTo) break;
      if (message.senderId !== userId) count++;
    }
    return count;
  }
}
