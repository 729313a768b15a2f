import type { Clock } from '../util/clock.js';

/** A conversation: 1:1 with a user, or a group. */
export type Conversation = { readonly with: number } | { readonly groupid: number };

/** Timers the client schedules typing expiry with (tests inject fake ones). */
export interface ClientTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers, looked up at each call (so fake timers installed later still apply). */
export const globalTimers: ClientTimers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A stable map key of a conversation. */
export function conversationKey(target: Conversation): string {
  return 'groupid' in target ? `g:${target.groupid}` : `u:${target.with}`;
}

/** Largest number of conversations and typers tracked: a flood of hints cannot grow memory. */
const MAX_TRACKED = 1000;

/**
 * Who is typing where, as hinted by the server. A hint lasts until its expiry (refreshed by every repeat),
 * a `stop`, or a message from that user in that conversation; `onChange` hears each change of a
 * conversation's set of typers (not each refresh), so a UI shows "typing…" once per start.
 */
export class TypingHints {
  private readonly byConversation = new Map<
    string,
    { readonly target: Conversation; readonly typers: Map<number, unknown> }
  >();

  constructor(
    private readonly timers: ClientTimers,
    private readonly onChange: (target: Conversation, typers: readonly number[]) => void,
  ) {}

  /** `from` is typing in `target` for `ms` more; true when they were not typing there before. */
  start(from: number, target: Conversation, ms: number): boolean {
    const key = conversationKey(target);
    let entry = this.byConversation.get(key);
    if (entry === undefined) {
      if (this.byConversation.size >= MAX_TRACKED) return false;
      entry = { target, typers: new Map() };
      this.byConversation.set(key, entry);
    }
    const had = entry.typers.get(from);
    if (had === undefined && entry.typers.size >= MAX_TRACKED) return false;
    if (had !== undefined) this.timers.clearTimeout(had);
    entry.typers.set(
      from,
      this.timers.setTimeout(() => this.stop(from, target), ms),
    );
    if (had === undefined) this.onChange(target, [...entry.typers.keys()]);
    return had === undefined;
  }

  /** `from` stopped typing in `target` (stop, expiry, or their message came); true when they were typing. */
  stop(from: number, target: Conversation): boolean {
    const key = conversationKey(target);
    const entry = this.byConversation.get(key);
    const timer = entry?.typers.get(from);
    if (entry === undefined || timer === undefined) return false;
    this.timers.clearTimeout(timer);
    entry.typers.delete(from);
    if (entry.typers.size === 0) this.byConversation.delete(key);
    this.onChange(target, [...entry.typers.keys()]);
    return true;
  }

  /** Users typing in `target` now, in the order they started. */
  who(target: Conversation): number[] {
    return [...(this.byConversation.get(conversationKey(target))?.typers.keys() ?? [])];
  }

  /** Forgets every hint silently (the session ended). */
  clear(): void {
    for (const { typers } of this.byConversation.values())
      for (const timer of typers.values()) this.timers.clearTimeout(timer);
    this.byConversation.clear();
  }
}

/**
 * Throttles this client's own typing notifications: a `start` goes out at most once per `refreshMs` per
 * conversation (a held-down key would otherwise send one per keystroke), a `stop` only after a `start`.
 */
export class TypingThrottle {
  private readonly startedAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly refreshMs: number,
  ) {}

  /** Whether this notification should be sent now; records it when so. */
  admit(target: Conversation, state: 'start' | 'stop'): boolean {
    const key = conversationKey(target);
    const last = this.startedAt.get(key);
    if (state === 'stop') return this.startedAt.delete(key);
    const now = this.clock.now();
    if (last !== undefined && now - last < this.refreshMs) return false;
    if (last === undefined && this.startedAt.size >= MAX_TRACKED) this.startedAt.clear();
    this.startedAt.set(key, now);
    return true;
  }

  /** A message went to `target`: the peer dropped the hint, so the next keystroke starts afresh. */
  reset(target: Conversation): void {
    this.startedAt.delete(conversationKey(target));
  }

  clear(): void {
    this.startedAt.clear();
  }
}
