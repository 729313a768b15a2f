import { AppError } from '../errors.js';
import { evictOldest } from '../util/evict-oldest.js';
import type { Logger } from '../logger.js';
import { AckCoalescer } from './ack-coalescer.js';
import { DeliveryPump } from './delivery-pump.js';
import type { BusEvent, MessageBus, MessageStore, Presence, SessionOrigin, UserId } from './ports.js';
import type { SessionSink } from './session-sink.js';
import { noTelemetry, type Telemetry } from './telemetry.js';

/** Local session ids remembered for ignoring our own kicks (far more than logins in flight). */
const LOCAL_IDS_KEPT = 100_000;

export interface AttachOptions {
  /**
   * Called with each sequence once its bytes were handed to the OS. v1 clients have no acks: the protocol
   * layer infers them from what follows the write (`V1DeliveryConfirmer`) and acks through `acks`.
   */
  readonly onFlushed?: ((seq: number) => void) | undefined;
  /** The client instance and attempt that opened this session (v2 clients that say so). */
  readonly origin?: SessionOrigin | undefined;
}

/** One logged-in connection as the service sees it. */
export class LiveSession {
  readonly pump: DeliveryPump;
  readonly acks: AckCoalescer;

  readonly origin: SessionOrigin | undefined;
  /** Fixed at attach: the sink may attach later sessions under other ids. */
  readonly sessionId: string;

  constructor(
    readonly userId: UserId,
    readonly sink: SessionSink,
    store: MessageStore,
    options: AttachOptions & { pageSize: number; logger: Logger; telemetry: Telemetry },
  ) {
    this.origin = options.origin;
    this.sessionId = sink.sessionId;
    this.acks = new AckCoalescer(
      (seq) => store.ack(userId, seq),
      (error) =>
        options.logger.warn({ err: error, userId }, 'ack write failed; will retry with the next ack'),
    );
    this.pump = new DeliveryPump(userId, sink, store, {
      pageSize: options.pageSize,
      onFlushed: options.onFlushed,
      onError: (error) => options.logger.warn({ err: error, userId }, 'inbox read failed; retrying'),
      telemetry: options.telemetry,
    });
  }
}

/**
 * The sessions on this node. Invariant: at most one live session per user in the whole cluster — a new
 * login kicks the older session locally and, through the bus, on every other node.
 */
export class SessionRegistry {
  private readonly sessions = new Map<UserId, LiveSession>();
  /**
   * Ids of sessions attached on this node (recent ones; bounded). A takeover between two of them is settled
   * here, so their `kick` events coming back over the bus are ignored — a late one must not end the newer.
   */
  private readonly localIds = new Map<string, true>();

  constructor(
    private readonly store: MessageStore,
    private readonly bus: MessageBus,
    private readonly presence: Presence,
    private readonly pageSize: number,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    bus.setHandler((event) => this.onBusEvent(event));
    bus.onResync(() => {
      for (const session of this.sessions.values()) session.pump.requestCatchUp();
    });
    presence.onSuperseded?.((userId, sessionId) => this.onSuperseded(userId, sessionId));
  }

  /** A newer session elsewhere holds this user's lease: end ours as a takeover would have. */
  private onSuperseded(userId: UserId, sessionId: string): void {
    const session = this.sessions.get(userId);
    if (!session || session.sessionId !== sessionId) return;
    this.logger.info({ userId }, 'session superseded by a newer one elsewhere; closing it');
    this.endDisplaced(session);
  }

  /** A newer session of the user lives on another node: close ours and release what it held here. */
  private endDisplaced(session: LiveSession, by?: SessionOrigin): void {
    this.sessions.delete(session.userId);
    this.retire(session);
    session.sink.kick(session.sessionId, by);
    void this.releaseAfterRemoteKick(session);
  }

  get size(): number {
    return this.sessions.size;
  }

  get(userId: UserId): LiveSession | undefined {
    return this.sessions.get(userId);
  }

  /**
   * Makes `sink` the user's live session. The returned session's pump is not started: the caller
   * replies to the login first, then starts the pump, so the reply precedes any message.
   */
  async attach(userId: UserId, sink: SessionSink, options: AttachOptions): Promise<LiveSession> {
    if (this.isStale(userId, options.origin)) throw new AppError('RESUME_SUPERSEDED');
    // The lease claim (which refuses a stale attempt cluster-wide) and the subscription go out together;
    // the SUBSCRIBE is awaited so it is live before the login reads the inbox.
    const [claimed] = await Promise.all([
      this.presence.attach(userId, sink.sessionId, options.origin),
      this.bus.subscribe(userId),
    ]);
    // Refused cluster-wide, or a newer attempt attached here while we waited (its claim came after ours,
    // so it holds the lease): this one must not displace it.
    if (!claimed || this.isStale(userId, options.origin)) {
      await this.bus.unsubscribe(userId);
      throw new AppError('RESUME_SUPERSEDED');
    }
    const session = new LiveSession(userId, sink, this.store, {
      ...options,
      pageSize: this.pageSize,
      logger: this.logger,
      telemetry: this.telemetry,
    });
    const previous = this.sessions.get(userId);
    this.sessions.set(userId, session);
    this.localIds.set(session.sessionId, true);
    evictOldest(this.localIds, LOCAL_IDS_KEPT);
    if (previous) {
      this.retire(previous);
      previous.sink.kick(previous.sessionId, options.origin);
      // The previous session's subscription ends here; its own detach finds itself replaced and leaves
      // the count alone, so this session's subscription is the one that stays.
      void this.bus.unsubscribe(userId);
    }
    // Other nodes close their sessions of this user; ours ignores the event (same session id).
    await this.bus.publish([{ type: 'kick', userId, sessionId: session.sessionId, origin: options.origin }]);
    return session;
  }

  /**
   * A reconnect attempt of a client instance that already attached with a newer attempt on this node is
   * stale (it reached us late, say from a frozen load balancer's backlog): attaching it would displace the
   * live session. Other nodes' sessions are checked by the presence claim.
   */
  private isStale(userId: UserId, origin: SessionOrigin | undefined): boolean {
    const holder = this.sessions.get(userId)?.origin;
    return !!origin && !!holder && holder.cid === origin.cid && holder.attempt > origin.attempt;
  }

  /** Ends a session (logout or disconnect). A session already replaced by a newer one only flushes acks. */
  async detach(session: LiveSession): Promise<void> {
    this.retire(session);
    await session.acks.flush();
    session.acks.stop();
    if (this.sessions.get(session.userId) !== session) return;
    this.sessions.delete(session.userId);
    await Promise.all([
      this.bus.unsubscribe(session.userId),
      this.presence.detach(session.userId, session.sessionId),
    ]);
  }

  private retire(session: LiveSession): void {
    session.pump.stop();
  }

  private onBusEvent(event: BusEvent): void {
    const session = this.sessions.get(event.userId);
    if (!session) return;
    if (event.type === 'deliver') {
      session.pump.offer({ seq: event.seq, message: event.message });
    } else if (event.type === 'sync') {
      session.pump.requestCatchUp();
    } else if (event.sessionId !== session.sessionId && !this.localIds.has(event.sessionId)) {
      this.endDisplaced(session, event.origin);
    }
  }

  private async releaseAfterRemoteKick(session: LiveSession): Promise<void> {
    try {
      await session.acks.flush();
      await Promise.all([
        this.bus.unsubscribe(session.userId),
        this.presence.detach(session.userId, session.sessionId),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, userId: session.userId }, 'releasing a kicked session failed');
    }
  }
}
