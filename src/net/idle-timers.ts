/** What an idle timeout watches: told once when it was idle for the whole timeout. */
export interface IdleWatched {
  idleExpired(): void;
}

/**
 * One timeout length's members, in order of their last activity (a Map keeps insertion order, and a
 * touch moves a member to the end), so the first is always the next to expire and one timer serves all.
 */
class IdleGroup {
  private readonly lastActive = new Map<IdleWatched, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.lastActive.size;
  }

  touch(member: IdleWatched): void {
    this.lastActive.delete(member);
    this.lastActive.set(member, performance.now());
    if (!this.timer) this.schedule();
  }

  has(member: IdleWatched): boolean {
    return this.lastActive.has(member);
  }

  delete(member: IdleWatched): void {
    this.lastActive.delete(member);
    if (this.lastActive.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(): void {
    for (const at of this.lastActive.values()) {
      // The first member (least recently active) is the next to expire; a touch after this only delays it.
      this.timer = setTimeout(() => this.expire(), Math.max(0, at + this.timeoutMs - performance.now()));
      this.timer.unref();
      return;
    }
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const [member, at] of this.lastActive) {
      if (at + this.timeoutMs > now) break;
      this.lastActive.delete(member);
      member.idleExpired();
    }
    if (!this.timer) this.schedule();
  }
}

/**
 * Idle timeouts of many connections, one timer per timeout length instead of a `Timeout` per
 * connection: an idle connection is held by thousands, and a Timeout with its callback costs ~250 B of
 * heap each, while a member here is one Map entry. Expiry is exact (the timer is set for the least
 * recently active member), so behaviour is that of one `setTimeout` refreshed by every `touch`.
 */
export class IdleTimers {
  private readonly groups = new Map<number, IdleGroup>();

  /** Starts (or restarts) `member`'s timeout of `timeoutMs`; `member.idleExpired()` runs once it ran out. */
  start(member: IdleWatched, timeoutMs: number): void {
    let group = this.groups.get(timeoutMs);
    if (!group) {
      group = new IdleGroup(timeoutMs);
      this.groups.set(timeoutMs, group);
    }
    group.touch(member);
  }

  /** Activity: `member`'s timeout starts again (a no-op when it has none running). */
  touch(member: IdleWatched, timeoutMs: number): void {
    const group = this.groups.get(timeoutMs);
    if (group?.has(member)) group.touch(member);
  }

  /** Stops `member`'s timeout. */
  stop(member: IdleWatched, timeoutMs: number): void {
    const group = this.groups.get(timeoutMs);
    if (!group) return;
    group.delete(member);
    if (group.size === 0) this.groups.delete(timeoutMs);
  }
}
