import type { Presence, UserId } from '../service/ports.js';

/** Presence of a single node: a user is online while one of their sessions is attached here. */
export class LocalPresence implements Presence {
  private readonly sessions = new Map<UserId, string>();

  /** Never refuses: on one node the session registry itself sees every attempt. */
  attach(userId: UserId, sessionId: string): Promise<boolean> {
    this.sessions.set(userId, sessionId);
    return Promise.resolve(true);
  }

  detach(userId: UserId, sessionId: string): Promise<void> {
    if (this.sessions.get(userId) === sessionId) this.sessions.delete(userId);
    return Promise.resolve();
  }

  onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>> {
    return Promise.resolve(new Set(userIds.filter((id) => this.sessions.has(id))));
  }

  get onlineCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.sessions.clear();
    return Promise.resolve();
  }
}
