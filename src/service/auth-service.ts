import { AppError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import type { PasswordHasher, UserId, UserRecord, UserStore } from './ports.js';
import type { SessionTokens } from './session-tokens.js';
import { checkName, checkPassword } from './text-rules.js';
import { evictOldest } from '../util/evict-oldest.js';

export type LoginIdentity = { readonly id: UserId } | { readonly name: string };

const FAILURE_WINDOW_MS = 60_000;
const MAX_FAILURES_PER_WINDOW = 10;
const MAX_TRACKED_ACCOUNTS = 10_000;

/** Registration, password login, token resume and logout. */
export class AuthService {
  /** Failed logins per account in the current window; bounded so a spray of ids cannot grow it forever. */
  private readonly failures = new Map<UserId, { count: number; since: number }>();
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
    private readonly tokens: SessionTokens,
    private readonly clock: Clock,
  ) {}

  async register(name: string, password: string): Promise<UserRecord> {
    checkName(name, 'name');
    checkPassword(password);
    return this.users.create(name, await this.hasher.hash(password));
  }

  async login(identity: LoginIdentity, password: string): Promise<UserRecord> {
    const user =
      'id' in identity ? await this.users.findById(identity.id) : await this.users.findByName(identity.name);
    if (!user) {
      // Same bcrypt cost as a real check, so response time does not reveal which ids exist.
      await this.hasher.verify(password, await this.getDummyHash());
      throw new AppError('AUTH_BAD_CREDENTIALS');
    }
    this.refuseWhileLocked(user.id);
    if (Buffer.byteLength(password) > 72 || !(await this.hasher.verify(password, user.passwordHash))) {
      this.recordFailure(user.id);
      throw new AppError('AUTH_BAD_CREDENTIALS');
    }
    this.failures.delete(user.id);
    return user;
  }

  issueToken(user: UserRecord): string {
    return this.tokens.issue(user.id, user.sessionEpoch);
  }

  /** The user a session token belongs to, if it is valid and not revoked by a later logout. */
  async resume(token: string): Promise<UserRecord> {
    const claims = this.tokens.verify(token);
    const user = claims ? await this.users.findById(claims.userId) : undefined;
    if (!claims || !user || user.sessionEpoch !== claims.epoch) throw new AppError('TOKEN_INVALID');
    return user;
  }

  /** Revokes every session token of the user. */
  async logout(userId: UserId): Promise<void> {
    await this.users.bumpSessionEpoch(userId);
  }

  private refuseWhileLocked(userId: UserId): void {
    const entry = this.failures.get(userId);
    if (!entry) return;
    if (this.clock.now() - entry.since > FAILURE_WINDOW_MS) {
      this.failures.delete(userId);
      return;
    }
    if (entry.count >= MAX_FAILURES_PER_WINDOW) {
      throw new AppError('RATE_LIMITED', 'too many failed logins for this account; wait a minute');
    }
  }

  private recordFailure(userId: UserId): void {
    const now = this.clock.now();
    const entry = this.failures.get(userId);
    if (entry && now - entry.since <= FAILURE_WINDOW_MS) {
      entry.count++;
      return;
    }
    this.failures.delete(userId); // a restarted window counts as new, so it is evicted last
    this.failures.set(userId, { count: 1, since: now });
    evictOldest(this.failures, MAX_TRACKED_ACCOUNTS);
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash('parley-dummy-password');
    return this.dummyHash;
  }
}
