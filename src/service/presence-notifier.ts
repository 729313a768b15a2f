import type { Logger } from '../logger.js';
import type { BusEvent, FriendStore, MessageBus, Presence, PresenceChange, UserId } from './ports.js';

/** Events per bus publish (one Redis pipeline each); the next chunk waits for the previous one. */
const CHUNK = 256;
/** Changes processed at once; more wait their turn (a node's users all leaving at once queue here). */
const CONCURRENCY = 4;
/**
 * An "offline" waits this long and is dropped if the user is online again by then: a client that
 * reconnects at once (a drained node, a network blip, a reconnect to another node) makes no flicker.
 */
export const OFFLINE_GRACE_MS = 1000;

/**
 * Tells friends when a user comes online or goes offline. Presence reports each visible change once in the
 * cluster (on one node); this fans it out to the user's friends through their bus channels, in
 * chunks, a few changes at a time, so a user with thousands of friends — or thousands of users leaving at
 * once — cannot stall the node. Changes of a user still waiting collapse into the latest, and an
 * "offline" is told only if the user is still offline after OFFLINE_GRACE_MS.
 */
export class PresenceNotifier {
  private readonly waiting = new Map<UserId, PresenceChange>();
  /** Offline changes in their grace period. */
  private readonly held = new Map<UserId, { change: PresenceChange; timer: NodeJS.Timeout }>();
  private running = 0;
  private idle: (() => void)[] = [];
  /** Counters for metrics and tests: changes fanned out, events published, offlines dropped (back online). */
  readonly counts = { changes: 0, events: 0, flickers: 0 };

  constructor(
    private readonly presence: Presence,
    private readonly friends: FriendStore,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    private readonly offlineGraceMs = OFFLINE_GRACE_MS,
  ) {
    presence.onChange((change) => this.enqueue(change));
  }

  /** Resolves once every change reported so far was fanned out (tests, shutdown). */
  settled(): Promise<void> {
    if (this.idleNow()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private idleNow(): boolean {
    return this.running === 0 && this.waiting.size === 0 && this.held.size === 0;
  }

  private enqueue(change: PresenceChange): void {
    const held = this.held.get(change.userId);
    if (held) {
      clearTimeout(held.timer);
      this.held.delete(change.userId);
    }
    if (change.view.state === 'offline' && this.offlineGraceMs > 0) {
      const timer = setTimeout(() => {
        this.held.delete(change.userId);
        this.waiting.set(change.userId, change);
        this.pump();
      }, this.offlineGraceMs);
      timer.unref();
      this.held.set(change.userId, { change, timer });
      return;
    }
    // An online within the grace of this node's offline: friends never heard of the offline.
    if (held && change.view.state === 'online') {
      this.counts.flickers++;
      this.finishIfIdle();
      return;
    }
    this.waiting.set(change.userId, change);
    this.pump();
  }

  private finishIfIdle(): void {
    if (this.idleNow()) for (const done of this.idle.splice(0)) done();
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.waiting.size > 0) {
      const [userId, change] = this.waiting.entries().next().value as [UserId, PresenceChange];
      this.waiting.delete(userId);
      this.running++;
      this.fanOut(change)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, userId }, 'presence change not sent to friends'),
        )
        .finally(() => {
          this.running--;
          this.pump();
          this.finishIfIdle();
        });
    }
  }

  private async fanOut(change: PresenceChange): Promise<void> {
    if (change.view.state === 'offline') {
      // Back online elsewhere within the grace (say it reconnected to another node): no flicker.
      const now = (await this.presence.viewsOf([change.userId])).get(change.userId);
      if (now?.state === 'online') {
        this.counts.flickers++;
        return;
      }
    }
    // Every friend's channel, not only the visibly online ones': a hidden friend is online too, and a
    // publish to a channel nobody listens on costs Redis next to nothing.
    const events: BusEvent[] = (await this.friends.list(change.userId)).map((friend) => ({
      type: 'presence',
      userId: friend.id,
      subject: change.userId,
      view: change.view,
    }));
    this.counts.changes++;
    for (let i = 0; i < events.length; i += CHUNK) {
      await this.bus.publish(events.slice(i, i + CHUNK));
      this.counts.events += Math.min(CHUNK, events.length - i);
    }
  }
}
