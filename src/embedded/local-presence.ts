import type {
  AttachOutcome,
  DeviceId,
  Presence,
  PresenceAttach,
  PresenceChange,
  PresenceView,
  SessionOrigin,
  UserId,
} from '../service/ports.js';
import { systemClock, type Clock } from '../util/clock.js';

/**
 * Presence of a single node: a user is online while one of their devices has a session attached here.
 * The same rules as RedisPresence (one contract): a stale attempt of the device holder's client instance
 * is refused, at most `maxDevices` devices per user, changes reported once (first device in, last device
 * out, hiding and showing while online), hidden users read offline. Nothing expires: the process that
 * holds the sessions is the one that would release them.
 */
export class LocalPresence implements Presence {
  /** The holder of each online user's devices: its session and the client instance and attempt. */
  private readonly online = new Map<
    UserId,
    Map<DeviceId, { sessionId: string; origin: SessionOrigin | undefined }>
  >();
  /** Users hiding their presence (kept while offline, as the Redis record is). */
  private readonly hidden = new Set<UserId>();
  /** When each user's last device left, while they were visible. */
  private readonly lastSeen = new Map<UserId, number>();
  private changed: ((change: PresenceChange) => void) | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /**
   * Refuses, as the port says, a stale attempt of the device holder's client instance. The session
   * registry checks this too, but only against sessions it has already registered: a stale claim racing a
   * newer one would otherwise overwrite the holder, and the device would stay online after the newer one
   * left.
   */
  attach(
    userId: UserId,
    device: DeviceId,
    sessionId: string,
    { origin, hidden, maxDevices }: PresenceAttach,
  ): Promise<AttachOutcome> {
    const devices = this.online.get(userId);
    const holder = devices?.get(device)?.origin;
    if (origin && holder && holder.cid === origin.cid && holder.attempt > origin.attempt)
      return Promise.resolve('stale');
    if (devices) {
      const others = devices.size - (devices.has(device) ? 1 : 0);
      if (others >= maxDevices) return Promise.resolve('too-many-devices');
      devices.set(device, { sessionId, origin });
      return Promise.resolve('attached');
    }
    // First device in: the setting read at login holds.
    this.online.set(userId, new Map([[device, { sessionId, origin }]]));
    if (hidden) this.hidden.add(userId);
    else {
      this.hidden.delete(userId);
      this.report(userId, ONLINE);
    }
    return Promise.resolve('attached');
  }

  detach(userId: UserId, device: DeviceId, sessionId: string): Promise<void> {
    const devices = this.online.get(userId);
    if (devices?.get(device)?.sessionId !== sessionId) return Promise.resolve();
    devices.delete(device);
    if (devices.size === 0) {
      this.online.delete(userId);
      if (!this.hidden.has(userId)) {
        const lastSeen = this.clock.now();
        this.lastSeen.set(userId, lastSeen);
        this.report(userId, { state: 'offline', lastSeen });
      }
    }
    return Promise.resolve();
  }

  onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>> {
    return Promise.resolve(new Set(userIds.filter((id) => this.view(id) === ONLINE)));
  }

  viewsOf(userIds: readonly UserId[]): Promise<Map<UserId, PresenceView>> {
    return Promise.resolve(new Map(userIds.map((id) => [id, this.view(id)])));
  }

  setHidden(userId: UserId, hidden: boolean): Promise<void> {
    if (this.hidden.has(userId) === hidden) return Promise.resolve();
    if (hidden) this.hidden.add(userId);
    else this.hidden.delete(userId);
    if (this.online.has(userId)) this.report(userId, hidden ? UNKNOWN : ONLINE);
    return Promise.resolve();
  }

  onChange(handler: (change: PresenceChange) => void): void {
    this.changed = handler;
  }

  /** Users online (visible or not). */
  get onlineCount(): number {
    return this.online.size;
  }

  close(): Promise<void> {
    this.online.clear();
    return Promise.resolve();
  }

  private view(userId: UserId): PresenceView {
    if (this.hidden.has(userId)) return UNKNOWN;
    if (this.online.has(userId)) return ONLINE;
    const lastSeen = this.lastSeen.get(userId);
    return lastSeen === undefined ? UNKNOWN : { state: 'offline', lastSeen };
  }

  private report(userId: UserId, view: PresenceView): void {
    this.changed?.({ userId, view });
  }
}

const ONLINE: PresenceView = { state: 'online', lastSeen: null };
const UNKNOWN: PresenceView = { state: 'offline', lastSeen: null };
