import type { Target, UserId } from './ports.js';

/** A 1:1 conversation is the same from both sides (`u:<low>:<high>`); a group conversation is `g:<id>`. */
export function conversationKey(userId: UserId, target: Target): string {
  if (target.kind === 'group') return `g:${target.id}`;
  return userId < target.id ? `u:${userId}:${target.id}` : `u:${target.id}:${userId}`;
}
