import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import type { BusEvent, MessageBus, UserId } from '../service/ports.js';
import { preciseWallClockMs, type Telemetry } from '../service/telemetry.js';
import { decodeEnvelope, encodeEnvelope } from './bus-envelope.js';
import { connectClients, GuardedConnector } from './redis-connect.js';
import type { RedisKeys } from './redis-keys.js';

export interface RedisBusOptions {
  readonly url: string;
  /** TLS settings for a rediss:// URL (CA, client certificate). @default what the URL implies */
  readonly tls?: ConnectionOptions | undefined;
  readonly keys: RedisKeys;
  readonly nodeId: string;
  readonly logger: Logger;
  /** Told how long each event from another node took from publish to receipt. */
  readonly telemetry?: Telemetry;
}

/** Longest a login waits for its SUBSCRIBE to be confirmed. */
const SUBSCRIBE_WAIT_MS = 1000;
/** Delay of the `sync` pokes after the publisher reconnected. */
const SYNC_POKE_DELAY_MS = 500;

interface OutgoingPublish {
  readonly events: readonly BusEvent[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The node-to-node fast path over Redis pub/sub, one channel per user id. Two connections: `pub`
 * (commands) and `sub` (subscriber mode). Pub/sub is at-most-once, so:
 * - events for users with a session on this node are delivered locally, without Redis, and this node's
 *   own echoes are ignored by node id — local users keep chatting while Redis is away;
 * - users whose events could not be published are remembered and poked with a `sync` event once Redis is
 *   back, and after `sub` reconnects every local session catches up from its inbox (onResync).
 */
export class RedisBus implements MessageBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  /** Local subscriptions per user (reference counts); the channel is subscribed while > 0. */
  private readonly refs = new Map<UserId, number>();
  /**
   * Users known to have no session on any other node (one device, here): their events stay on this node.
   * Every other subscribed user's events also go out, since another device may be elsewhere. Set by
   * `keepLocal`, cleared by `shareUser` and with the user's last subscription here.
   */
  private readonly exclusive = new Set<UserId>();
  /** Users whose events were not published (Redis down); poked with `sync` when it returns. */
  private readonly missed = new Set<UserId>();
  private handler: (event: BusEvent) => void = () => {};
  private readonly resyncListeners: (() => void)[] = [];
  private subReadyCount = 0;
  private readonly counts = { published: 0, received: 0, publishFailures: 0 };
  private closed = false;
  /** Publishes of the current tick, sent together by flushOutgoing. */
  private readonly outgoing: OutgoingPublish[] = [];

  constructor(private readonly options: RedisBusOptions) {
    const common = {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      Connector: GuardedConnector,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000),
    };
    // Publishing while Redis is down must fail at once, not queue: the inbox already holds the message.
    this.pub = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      connectionName: `parley-pub-${options.nodeId}`,
    });
    this.sub = new Redis(options.url, {
      ...common,
      autoResubscribe: false,
      connectionName: `parley-sub-${options.nodeId}`,
    });
    this.pub.on('error', (error) => this.logError('redis publisher', error));
    this.sub.on('error', (error) => this.logError('redis subscriber', error));
    this.pub.on('ready', () => this.onPubReady());
    this.sub.on('ready', () => this.onSubReady());
    this.sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
  }

  /** Connects both connections; rejects (naming REDIS_URL) when Redis is unreachable. */
  async connect(): Promise<void> {
    await connectClients(this.pub, this.sub);
    await this.pub.ping();
  }

  async publish(events: readonly BusEvent[]): Promise<void> {
    const remote: BusEvent[] = [];
    const local: BusEvent[] = [];
    for (const event of events) {
      // Events for a user with a session here are handled here; they also go out unless the user is known
      // to be on this node only (one device), and kicks always do (the user may be elsewhere too).
      const here = this.refs.has(event.userId);
      if (here) local.push(event);
      if (!here || event.type === 'kick' || !this.exclusive.has(event.userId)) remote.push(event);
    }
    this.counts.published += events.length;
    if (local.length > 0) {
      queueMicrotask(() => {
        this.counts.received += local.length;
        for (const event of local) this.handler(event);
      });
    }
    if (remote.length === 0) return;
    return new Promise((resolve, reject) => {
      this.outgoing.push({ events: remote, resolve, reject });
      if (this.outgoing.length === 1) process.nextTick(() => void this.flushOutgoing());
    });
  }

  /**
   * Sends every publish of this tick in one pipeline — one write instead of one per call: a committed
   * append batch resolves its ~100 sends in one burst, each publishing on its own. A caller's promise
   * settles with its own commands' results.
   */
  private async flushOutgoing(): Promise<void> {
    const calls = this.outgoing.splice(0);
    let results: [Error | null, unknown][];
    try {
      const pipeline = this.pub.pipeline();
      const now = preciseWallClockMs();
      for (const call of calls)
        for (const event of call.events)
          pipeline.publish(
            this.options.keys.userChannel(event.userId),
            encodeEnvelope(this.options.nodeId, event, now),
          );
      results = (await pipeline.exec()) ?? [];
    } catch (error) {
      for (const call of calls) this.publishFailed(call, error);
      return;
    }
    let next = 0;
    for (const call of calls) {
      const mine = results.slice(next, (next += call.events.length));
      const failure = mine.find(([error]) => error)?.[0];
      if (failure || mine.length < call.events.length)
        this.publishFailed(call, failure ?? new Error('publish got no reply'));
      else call.resolve();
    }
  }

  private publishFailed(call: OutgoingPublish, error: unknown): void {
    this.counts.publishFailures += call.events.length;
    for (const event of call.events) if (event.type !== 'kick') this.missed.add(event.userId);
    call.reject(error);
  }

  async subscribe(userId: UserId): Promise<void> {
    const count = this.refs.get(userId) ?? 0;
    this.refs.set(userId, count + 1);
    if (count === 0 && this.sub.status === 'ready') {
      // Awaited (bounded) so the subscription is live before the login reads the inbox: an event published
      // between that read and a late SUBSCRIBE would otherwise wait for the next one. A login never fails
      // or hangs on Redis: a subscription lost here is restored, with a catch-up, when the subscriber returns.
      const subscribed = this.sub
        .subscribe(this.options.keys.userChannel(userId))
        .catch((error: unknown) => this.logError('subscribe', error));
      await Promise.race([
        subscribed,
        new Promise((resolve) => setTimeout(resolve, SUBSCRIBE_WAIT_MS).unref()),
      ]);
    }
  }

  unsubscribe(userId: UserId): Promise<void> {
    const count = this.refs.get(userId) ?? 0;
    if (count > 1) {
      this.refs.set(userId, count - 1);
      return Promise.resolve();
    }
    this.refs.delete(userId);
    this.exclusive.delete(userId);
    if (this.sub.status === 'ready') {
      this.sub
        .unsubscribe(this.options.keys.userChannel(userId))
        .catch((error: unknown) => this.logError('unsubscribe', error));
    }
    return Promise.resolve();
  }

  keepLocal(userId: UserId): void {
    if (this.refs.has(userId)) this.exclusive.add(userId);
  }

  shareUser(userId: UserId): void {
    this.exclusive.delete(userId);
  }

  setHandler(handler: (event: BusEvent) => void): void {
    this.handler = handler;
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  stats(): { subscriptions: number; published: number; received: number; publishFailures: number } {
    return { subscriptions: this.refs.size, ...this.counts };
  }

  close(): Promise<void> {
    this.closed = true;
    this.pub.disconnect();
    this.sub.disconnect();
    return Promise.resolve();
  }

  private onMessage(channel: string, payload: string): void {
    const decoded = decodeEnvelope(payload);
    if (!decoded) {
      this.options.logger.warn({ channel }, 'dropped a malformed bus envelope');
      return;
    }
    if (decoded.node === this.options.nodeId) return;
    if (this.options.keys.userOfChannel(channel) !== decoded.event.userId) return;
    this.counts.received++;
    if (decoded.t !== undefined) this.options.telemetry?.busEventReceived(decoded.t);
    this.handler(decoded.event);
  }

  private onSubReady(): void {
    this.subReadyCount++;
    const channels = [...this.refs.keys()].map((userId) => this.options.keys.userChannel(userId));
    const resubscribed =
      channels.length > 0
        ? this.sub.subscribe(...channels).catch((error: unknown) => this.logError('resubscribe', error))
        : Promise.resolve();
    if (this.subReadyCount > 1) {
      // Catch up only once the subscriptions are live again: an event published between the inbox read
      // and a later SUBSCRIBE would otherwise reach nobody until the user's next message.
      void resubscribed.then(() => {
        this.options.logger.info(
          { channels: channels.length },
          'redis subscriber reconnected; catching up local sessions',
        );
        for (const listener of this.resyncListeners) listener();
      });
    }
  }

  private onPubReady(): void {
    if (this.missed.size === 0) return;
    // Give other nodes' subscribers, which lost Redis too, a moment to resubscribe before poking them.
    setTimeout(() => {
      const users = [...this.missed];
      this.missed.clear();
      if (users.length === 0 || this.closed) return;
      this.publish(users.map((userId) => ({ type: 'sync' as const, userId }))).catch((error: unknown) =>
        this.logError('sync after reconnect', error),
      );
    }, SYNC_POKE_DELAY_MS).unref();
  }

  private logError(what: string, error: unknown): void {
    if (this.closed) return;
    this.options.logger.warn({ err: error }, `${what} failed`);
  }
}
