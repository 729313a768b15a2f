import type { FriendStore, UserId, UserSummary } from '../service/ports.js';
import type { MemoryUserStore } from './memory-user-store.js';

export class MemoryFriendStore implements FriendStore {
  private readonly friends = new Map<UserId, Set<UserId>>();

  constructor(private readonly users: MemoryUserStore) {}

  add(a: UserId, b: UserId): Promise<boolean> {
    const mine = this.setOf(a);
    if (mine.has(b)) return Promise.resolve(false);
    // Friendship is mutual: both directions are written together.
    mine.add(b);
    this.setOf(b).add(a);
    return Promise.resolve(true);
  }

  list(userId: UserId): Promise<UserSummary[]> {
    const ids = [...(this.friends.get(userId) ?? [])].sort((x, y) => x - y);
    return this.users.findSummaries(ids);
  }

  /** Synchronous: the user's friends' ids (for the read store's conversation list). */
  idsOf(userId: UserId): readonly UserId[] {
    return [...(this.friends.get(userId) ?? [])];
  }

  private setOf(userId: UserId): Set<UserId> {
    let set = this.friends.get(userId);
    if (!set) this.friends.set(userId, (set = new Set()));
    return set;
  }
}
