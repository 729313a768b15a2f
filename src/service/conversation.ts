import type { StoredMessage, Target, UserId } from './ports.js';

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

/**
 * A copy of the user's own send to someone else (made for the user's other devices). A message to oneself
 * is not a copy: it is the user's to see on every device, v1 included.
 */
export function isOwnCopy(message: StoredMessage, userId: UserId): boolean {
  return message.senderId === userId && !(message.target.kind === 'user' && message.target.id === userId);
}
