import type { Logger } from '../logger.js';
import type { BusEvent, FriendStore, MessageBus, Presence, PresenceChange, UserId } from './ports.js';

/** Events per bus publish (one Redis pipeline each); the next chunk waits for the previous one. */
const CHUNK = 256;
/** Changes processed at once; more wait their turn (a node's users all leaving at once queue here). */
const CONCURRENCY = 4;

/**
 * Tells friends when a user comes online or goes offline. Presence reports each visible change once in the
 * cluster (on one node); this fans it out to the user's friends through their bus channels, in
 * chunks, a few changes at a time, so a user with thousands of friends — or thousands of users leaving at
 * once — cannot stall the node. Changes of a user still waiting collapse into the latest.
 */
export class PresenceNotifier {
  private readonly waiting = new Map<UserId, PresenceChange>();
  private running = 0;
  private idle: (() => void)[] = [];
  /** Counters for metrics and tests: changes fanned out, events published. */
  readonly counts = { changes: 0, events: 0 };

  constructor(
    presence: Presence,
    private readonly friends: FriendStore,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
  ) {
    presence.onChange((change) => this.enqueue(change));
  }

  /** Resolves once every change reported so far was fanned out (tests, shutdown). */
  settled(): Promise<void> {
    if (this.running === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private enqueue(change: PresenceChange): void {
    this.waiting.set(change.userId, change);
    this.pump();
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
          if (this.running === 0 && this.waiting.size === 0) for (const done of this.idle.splice(0)) done();
        });
    }
  }

  private async fanOut(change: PresenceChange): Promise<void> {
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
