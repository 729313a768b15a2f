import type { ChatStore } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import { MemoryFriendStore } from './memory-friend-store.js';
import { MemoryGroupStore } from './memory-group-store.js';
import { MemoryMessageStore } from './memory-message-store.js';
import { MemoryUserStore } from './memory-user-store.js';

/** The embedded single-node store: everything in this process's memory, gone at exit. */
export function createMemoryStore(clock: Clock, historyLimit: number): ChatStore {
  const users = new MemoryUserStore();
  const groups = new MemoryGroupStore(users);
  return {
    users,
    friends: new MemoryFriendStore(users),
    groups,
    messages: new MemoryMessageStore(users, groups, clock, historyLimit),
    close: () => Promise.resolve(),
  };
}
