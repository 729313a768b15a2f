import type { ChatStore } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import { MemoryFriendStore } from './memory-friend-store.js';
import { MemoryGroupStore } from './memory-group-store.js';
import { MemoryMessageStore } from './memory-message-store.js';
import { MemoryReadStore } from './memory-read-store.js';
import { MemoryUserStore } from './memory-user-store.js';

/** DEVICE_RETENTION_DAYS' default (30 days), for callers that do not configure it. */
export const DEFAULT_DEVICE_RETENTION_MS = 30 * 86_400_000;

/**
 * The embedded single-node store: everything in this process's memory, gone at exit. `clock` stamps
 * messages and device activity; `deviceRetentionMs` is how long an idle device holds back inbox trimming.
 */
export function createMemoryStore(
  clock: Clock,
  historyLimit: number,
  deviceRetentionMs: number = DEFAULT_DEVICE_RETENTION_MS,
): ChatStore {
  const users = new MemoryUserStore();
  const groups = new MemoryGroupStore(users);
  const friends = new MemoryFriendStore(users);
  const messages = new MemoryMessageStore(users, groups, clock, historyLimit, deviceRetentionMs);
  return {
    users,
    friends,
    groups,
    messages,
    reads: new MemoryReadStore(users, friends, groups, messages),
    close: () => Promise.resolve(),
  };
}
