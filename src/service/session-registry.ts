import { AppError } from '../errors.js';
import { evictOldest } from '../util/evict-oldest.js';
import type { Logger } from '../logger.js';
import { AckCoalescer } from './ack-coalescer.js';
import { isOwnCopy } from './conversation.js';
import { DeliveryPump } from './delivery-pump.js';
import type {
  BusEvent,
  DeviceId,
  MessageBus,
  MessageStore,
  Presence,
  SessionOrigin,
  UserId,
} from './ports.js';
import type { SessionSink } from './session-sink.js';
import { noTelemetry, type Telemetry } from './telemetry.js';

/** Local session ids remembered for ignoring our own kicks (far more than logins in flight). */
const LOCAL_IDS_KEPT = 100_000;
/** A `kick` naming this device ends every session of the user ("log out everywhere"). */
export const EVERY_DEVICE = '*';
/**
 * What a kick from a node of the release before devices names (it carries no device): that release had
 * one session per user, so it ends every session of the user here — as a takeover, not a logout everywhere.
 */
export const LEGACY_KICK_DEVICE = '*legacy';

function isEveryDevice(device: string): boolean {
  return device === EVERY_DEVICE || device === LEGACY_KICK_DEVICE;
}

export interface AttachOptions {
  /** The device this session is for; sessions of other devices of the user stay. */
  readonly device: DeviceId;
  /** The user's presence setting (UserRecord.presenceHidden). */
  readonly hidden: boolean;
  /**
   * Called with each sequence once its bytes were handed to the OS. v1 clients have no acks: the protocol
   * layer infers them from what follows the write (`V1DeliveryConfirmer`) and acks through `acks`.
   */
  readonly onFlushed?: ((seq: number) => void) | undefined;
  /** The client instance and attempt that opened this session (v2 clients that say so). */
  readonly origin?: SessionOrigin | undefined;
  /** Copies of the user's own sends are not shown to this session (v1 clients cannot tell them apart). */
  readonly skipOwn?: boolean;
}

/** One logged-in connection as the service sees it. */
export class LiveSession {
  readonly pump: DeliveryPump;
  readonly acks: AckCoalescer;

  readonly origin: SessionOrigin | undefined;
  readonly device: DeviceId;
  /** Fixed at attach: the sink may attach later sessions under other ids. */
  readonly sessionId: string;

  constructor(
    readonly userId: UserId,
    readonly sink: SessionSink,
    store: MessageStore,
    options: AttachOptions & { pageSize: number; logger: Logger; telemetry: Telemetry },
  ) {
    this.origin = options.origin;
    this.device = options.device;
    this.sessionId = sink.sessionId;
    const device = options.device;
    this.acks = new AckCoalescer(
      (seq) => store.ack(userId, device, seq),
      (error) =>
        options.logger.warn({ err: error, userId }, 'ack write failed; will retry with the next ack'),
    );
    this.pump = new DeliveryPump(userId, sink, store, {
      pageSize: options.pageSize,
      onFlushed: options.onFlushed,
      skip: options.skipOwn ? (entry) => isOwnCopy(entry.message, userId) : undefined,
      onError: (error) => options.logger.warn({ err: error, userId }, 'inbox read failed; retrying'),
      telemetry: options.telemetry,
    });
  }
}

/** Where the registry sends the live notices that are not inbox messages (presence, typing, read). */
export type NoticeEvent = Extract<BusEvent, { type: 'presence' | 'typing' | 'read' }>;

/**
 * The sessions on this node. Invariant: at most one live session per (user, device) in the whole cluster
 * — a new login of a device kicks that device's older session locally and, through the bus, on every
 * other node; sessions of the user's other devices stay.
 */
export class SessionRegistry {
  private readonly sessions = new Map<UserId, Map<DeviceId, LiveSession>>();
  private count = 0;
  /**
   * Users with sessions here who have several active devices: their own sends are copied to their inbox.
   * Learnt at attach and from `devices` events; forgotten with the user's last session here.
   */
  private readonly multiDevice = new Set<UserId>();
  /**
   * Ids of sessions attached on this node (recent ones; bounded). A takeover between two of them is settled
   * here, so their `kick` events coming back over the bus are ignored — a late one must not end the newer.
   */
  private readonly localIds = new Map<string, true>();

  constructor(
    private readonly store: MessageStore,
    private readonly bus: MessageBus,
    private readonly presence: Presence,
    private readonly options: { readonly pageSize: number; readonly maxDevices: number },
    private readonly logger: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    bus.setHandler((event) => this.onBusEvent(event));
    bus.onResync(() => {
      for (const devices of this.sessions.values())
        for (const session of devices.values()) session.pump.requestCatchUp();
    });
    presence.onSuperseded?.((userId, device, sessionId) => this.onSuperseded(userId, device, sessionId));
  }

  get size(): number {
    return this.count;
  }

  /** The user's session on `device` here, if any. */
  get(userId: UserId, device: DeviceId): LiveSession | undefined {
    return this.sessions.get(userId)?.get(device);
  }

  /** Every session of the user on this node. */
  sessionsOf(userId: UserId): Iterable<LiveSession> {
    return this.sessions.get(userId)?.values() ?? [];
  }

  /** Whether the user's own sends must be copied to their inbox (they have several active devices). */
  copiesOwnSends(userId: UserId): boolean {
    return this.multiDevice.has(userId);
  }

  /**
   * Marks the user as having several active devices (their session learnt it at login) and tells the
   * user's sessions on other nodes, which may have started while the user had one.
   */
  /**
   * Told at login how many devices the user has (active within the retention window). One: nobody else
   * can be online, so the bus may keep the user's events here — unless this node already heard of another
   * device (a login elsewhere can race this one). Several: own sends are copied from now on, and the
   * user's sessions on other nodes, which may have started while the user had one device, are told.
   */
  async noteDevices(userId: UserId, activeDevices: number): Promise<void> {
    if (!this.sessions.has(userId)) return;
    if (activeDevices <= 1) {
      if (!this.multiDevice.has(userId)) this.bus.keepLocal(userId);
      return;
    }
    this.multiDevice.add(userId);
    this.bus.shareUser(userId);
    await this.bus.publish([{ type: 'devices', userId }]);
  }

  /**
   * Another device of the user appeared elsewhere: copy own sends, let events leave this node, and — since
   * until now this node may have kept some to itself — tell the user's other sessions to read their inbox.
   */
  private learnOtherDevice(userId: UserId): void {
    if (this.multiDevice.has(userId)) return;
    this.multiDevice.add(userId);
    this.bus.shareUser(userId);
    void this.bus.publish([{ type: 'sync', userId }]).catch(() => undefined);
  }

  /**
   * Makes `sink` the live session of the user's device. The returned session's pump is not started: the
   * caller replies to the login first, then starts the pump, so the reply precedes any message.
   */
  async attach(userId: UserId, sink: SessionSink, options: AttachOptions): Promise<LiveSession> {
    const { device, origin } = options;
    if (this.isStale(userId, device, origin)) throw new AppError('RESUME_SUPERSEDED');
    // The lease claim (which refuses a stale attempt and a device too many, cluster-wide) and the
    // subscription go out together; the SUBSCRIBE is awaited so it is live before the login reads the inbox.
    const [outcome] = await Promise.all([
      this.presence.attach(userId, device, sink.sessionId, {
        origin,
        hidden: options.hidden,
        maxDevices: this.options.maxDevices,
      }),
      this.bus.subscribe(userId),
    ]);
    // Refused cluster-wide, or a newer attempt attached here while we waited (its claim came after ours,
    // so it holds the lease): this one must not displace it.
    if (outcome !== 'attached' || this.isStale(userId, device, origin)) {
      await this.bus.unsubscribe(userId);
      throw new AppError(outcome === 'too-many-devices' ? 'TOO_MANY_DEVICES' : 'RESUME_SUPERSEDED');
    }
    const session = new LiveSession(userId, sink, this.store, {
      ...options,
      pageSize: this.options.pageSize,
      logger: this.logger,
      telemetry: this.telemetry,
    });
    let devices = this.sessions.get(userId);
    if (!devices) this.sessions.set(userId, (devices = new Map<DeviceId, LiveSession>()));
    const previous = devices.get(device);
    devices.set(device, session);
    if (!previous) this.count++;
    this.localIds.set(session.sessionId, true);
    evictOldest(this.localIds, LOCAL_IDS_KEPT);
    if (previous) {
      this.retire(previous);
      previous.sink.kick(previous.sessionId, origin);
      // The previous session's subscription ends here; its own detach finds itself replaced and leaves
      // the count alone, so this session's subscription is the one that stays.
      void this.bus.unsubscribe(userId);
    }
    // Other nodes close their sessions of this device; ours ignores the event (same session id).
    try {
      await this.bus.publish([{ type: 'kick', userId, device, sessionId: session.sessionId, origin }]);
    } catch (error) {
      // The login fails: undo it, or the session would stay registered and its lease renewed forever.
      this.retire(session);
      if (this.remove(session))
        await Promise.all([
          this.bus.unsubscribe(userId),
          this.presence.detach(userId, device, session.sessionId),
        ]).catch(() => undefined);
      throw error;
    }
    return session;
  }

  /**
   * A reconnect attempt of a client instance that already attached with a newer attempt on this node is
   * stale (it reached us late, say from a frozen load balancer's backlog): attaching it would displace the
   * live session. Other nodes' sessions are checked by the presence claim.
   */
  private isStale(userId: UserId, device: DeviceId, origin: SessionOrigin | undefined): boolean {
    const holder = this.get(userId, device)?.origin;
    return !!origin && !!holder && holder.cid === origin.cid && holder.attempt > origin.attempt;
  }

  /** Ends a session (logout or disconnect). A session already replaced by a newer one only flushes acks. */
  async detach(session: LiveSession): Promise<void> {
    this.retire(session);
    await session.acks.flush();
    session.acks.stop();
    if (!this.remove(session)) return;
    await Promise.all([
      this.bus.unsubscribe(session.userId),
      this.presence.detach(session.userId, session.device, session.sessionId),
    ]);
  }

  /**
   * "Log out everywhere": ends every session of the user, here and (through the bus) on other nodes,
   * except `keep` (the connection that asked, which logs out by itself).
   */
  async kickEverywhere(userId: UserId, keep: LiveSession | undefined): Promise<void> {
    for (const session of [...this.sessionsOf(userId)])
      if (session !== keep) this.endDisplaced(session, undefined, true);
    await this.bus.publish([
      { type: 'kick', userId, device: EVERY_DEVICE, sessionId: keep?.sessionId ?? 'everywhere' },
    ]);
  }

  /** Removes the session from the map if it is still the device's live one; false when it was replaced. */
  private remove(session: LiveSession): boolean {
    const devices = this.sessions.get(session.userId);
    if (devices?.get(session.device) !== session) return false;
    devices.delete(session.device);
    this.count--;
    if (devices.size === 0) {
      this.sessions.delete(session.userId);
      this.multiDevice.delete(session.userId);
    }
    return true;
  }

  private retire(session: LiveSession): void {
    session.pump.stop();
  }

  /** A newer session elsewhere holds this device's lease: end ours as a takeover would have. */
  private onSuperseded(userId: UserId, device: DeviceId, sessionId: string): void {
    const session = this.get(userId, device);
    if (!session || session.sessionId !== sessionId) return;
    this.logger.info({ userId, device }, 'session superseded by a newer one elsewhere; closing it');
    this.endDisplaced(session);
  }

  /** A newer session of the device lives elsewhere (or the user logged out everywhere): close ours. */
  private endDisplaced(session: LiveSession, by?: SessionOrigin, everywhere = false): void {
    this.remove(session);
    this.retire(session);
    session.sink.kick(session.sessionId, by, everywhere);
    void this.releaseAfterRemoteKick(session);
  }

  private onBusEvent(event: BusEvent): void {
    const devices = this.sessions.get(event.userId);
    if (!devices) return;
    switch (event.type) {
      case 'deliver':
        for (const session of devices.values())
          session.pump.offer({ seq: event.seq, message: event.message });
        return;
      case 'sync':
        for (const session of devices.values()) session.pump.requestCatchUp();
        return;
      case 'devices':
        this.learnOtherDevice(event.userId);
        return;
      case 'kick':
        // A session of another device elsewhere: from now on this user's events must leave this node.
        if (!isEveryDevice(event.device) && !devices.has(event.device)) this.learnOtherDevice(event.userId);
        for (const session of [...devices.values()]) {
          const target = isEveryDevice(event.device) || event.device === session.device;
          if (target && event.sessionId !== session.sessionId && !this.localIds.has(event.sessionId))
            this.endDisplaced(session, event.origin, event.device === EVERY_DEVICE);
        }
        return;
      default:
        for (const session of devices.values()) {
          // The device that marked a conversation read knows it already.
          if (event.type === 'read' && event.reader === event.userId && event.device === session.device)
            continue;
          session.sink.notify(event);
        }
    }
  }

  private async releaseAfterRemoteKick(session: LiveSession): Promise<void> {
    try {
      await session.acks.flush();
      await Promise.all([
        this.bus.unsubscribe(session.userId),
        this.presence.detach(session.userId, session.device, session.sessionId),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, userId: session.userId }, 'releasing a kicked session failed');
    }
  }
}
