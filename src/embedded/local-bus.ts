import type { BusEvent, MessageBus, UserId } from '../service/ports.js';

/**
 * The in-process bus of a single node: delivers an event only to users with a subscription, like a
 * Redis channel per user. Delivery is asynchronous (a microtask), as it would be over a network.
 */
export class LocalBus implements MessageBus {
  private readonly subscriptions = new Map<UserId, number>();
  private handler: (event: BusEvent) => void = () => {};
  private published = 0;
  private received = 0;

  publish(events: readonly BusEvent[]): Promise<void> {
    const wanted = events.filter((event) => this.subscriptions.has(event.userId));
    this.published += events.length;
    if (wanted.length > 0) {
      queueMicrotask(() => {
        this.received += wanted.length;
        for (const event of wanted) this.handler(event);
      });
    }
    return Promise.resolve();
  }

  subscribe(userId: UserId): Promise<void> {
    this.subscriptions.set(userId, (this.subscriptions.get(userId) ?? 0) + 1);
    return Promise.resolve();
  }

  unsubscribe(userId: UserId): Promise<void> {
    const count = this.subscriptions.get(userId) ?? 0;
    if (count <= 1) this.subscriptions.delete(userId);
    else this.subscriptions.set(userId, count - 1);
    return Promise.resolve();
  }

  keepLocal(): void {
    // One process: every session of a user is here anyway.
  }

  shareUser(): void {
    // One process: every session of a user is here anyway.
  }

  setHandler(handler: (event: BusEvent) => void): void {
    this.handler = handler;
  }

  onResync(): void {
    // An in-process bus never loses events.
  }

  stats(): { subscriptions: number; published: number; received: number; publishFailures: number } {
    return {
      subscriptions: this.subscriptions.size,
      published: this.published,
      received: this.received,
      publishFailures: 0,
    };
  }

  close(): Promise<void> {
    this.subscriptions.clear();
    return Promise.resolve();
  }
}
