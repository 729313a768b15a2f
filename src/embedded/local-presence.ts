import type { Presence, SessionOrigin, UserId } from '../service/ports.js';

/** Presence of a single node: a user is online while one of their sessions is attached here. */
export class LocalPresence implements Presence {
  /** The holder per user: its session, and the client instance and attempt that opened it. */
  private readonly sessions = new Map<UserId, { sessionId: string; origin: SessionOrigin | undefined }>();

  /**
   * Refuses, as the port says, a stale attempt of the holder's client instance. The session registry
   * checks this too, but only against sessions it has already registered: a stale claim racing a newer
   * one would otherwise overwrite the holder, and the user would stay online after the newer one left.
   */
  attach(userId: UserId, sessionId: string, origin?: SessionOrigin): Promise<boolean> {
    const holder = this.sessions.get(userId)?.origin;
    if (origin && holder && holder.cid === origin.cid && holder.attempt > origin.attempt)
      return Promise.resolve(false);
    this.sessions.set(userId, { sessionId, origin });
    return Promise.resolve(true);
  }

  detach(userId: UserId, sessionId: string): Promise<void> {
    if (this.sessions.get(userId)?.sessionId === sessionId) this.sessions.delete(userId);
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
