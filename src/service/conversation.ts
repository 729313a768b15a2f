import type { Target, UserId } from './ports.js';

/** A 1:1 conversation is the same from both sides (`u:<low>:<high>`); a group conversation is `g:<id>`. */
export function conversationKey(userId: UserId, target: Target): string {
  if (target.kind === 'group') return `g:${target.id}`;
  return userId < target.id ? `u:${userId}:${target.id}` : `u:${target.id}:${userId}`;
}

/** The conversation as `userId` sees it, from its key (the inverse of conversationKey). */
export function targetOfKey(userId: UserId, key: string): Target {
  const parts = key.split(':');
  if (parts[0] === 'g') return { kind: 'group', id: Number(parts[1]) };
  const [low, high] = [Number(parts[1]), Number(parts[2])];
  return { kind: 'user', id: low === userId ? high : low };
}
