import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import type { UserId } from './ports.js';

export interface TokenClaims {
  readonly userId: UserId;
  /** The user's session epoch when issued; logout bumps it and so revokes the token. */
  readonly epoch: number;
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number;
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

  issue(userId: UserId, epoch: number): string {
    const payload = Buffer.from(JSON.stringify([userId, epoch, this.clock.now() + this.ttlMs])).toString(
      'base64url',
    );
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
    if (!Array.isArray(decoded) || decoded.length !== 3 || !decoded.every(Number.isSafeInteger))
      return undefined;
    const [userId, epoch, expiresAt] = decoded as [number, number, number];
    if (expiresAt <= this.clock.now()) return undefined;
    return { userId, epoch, expiresAt };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
