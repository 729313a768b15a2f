import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { DEFAULT_DEVICE, type DeviceId, type UserId } from './ports.js';

export interface TokenClaims {
  readonly userId: UserId;
  /** The user's session epoch when issued; logout bumps it and so revokes the token. */
  readonly epoch: number;
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number;
  /** The device the token was issued to; RESUME continues that device. */
  readonly device: DeviceId;
  /** The device's token epoch when issued; the device's logout bumps it and so revokes the token. */
  readonly deviceEpoch: number;
}

/**
 * Signed, stateless session tokens (`<payload>.<hmac>`, base64url). Resume checks them without bcrypt,
 * which is what keeps a reconnect storm cheap; every node of a cluster shares SESSION_SECRET.
 */
export class SessionTokens {
  constructor(
    private readonly secret: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  issue(userId: UserId, epoch: number, device: DeviceId, deviceEpoch: number): string {
    const payload = Buffer.from(
      JSON.stringify([userId, epoch, this.clock.now() + this.ttlMs, device, deviceEpoch]),
    ).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The claims of a valid, unexpired token; undefined for anything else. */
  verify(token: string): TokenClaims | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 512) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    // Tokens issued before devices existed have three fields: they belong to the default device.
    if (!Array.isArray(decoded) || (decoded.length !== 3 && decoded.length !== 5)) return undefined;
    const [userId, epoch, expiresAt, device = DEFAULT_DEVICE, deviceEpoch = 0] = decoded as unknown[];
    if (![userId, epoch, expiresAt, deviceEpoch].every(Number.isSafeInteger) || typeof device !== 'string')
      return undefined;
    if ((expiresAt as number) <= this.clock.now()) return undefined;
    return {
      userId: userId as number,
      epoch: epoch as number,
      expiresAt: expiresAt as number,
      device,
      deviceEpoch: deviceEpoch as number,
    };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
