import { AppError } from '../errors.js';
import type { CredentialCache, RecalledCredential } from './credential-cache.js';
import type { LoginGuard, PasswordAttempt } from './login-guard.js';
import type { PasswordAdmission } from './password-admission.js';
import type {
  DeviceCursor,
  DeviceId,
  MessageStore,
  PasswordHasher,
  UserId,
  UserRecord,
  UserStore,
} from './ports.js';
import type { SessionTokens } from './session-tokens.js';
import { checkName, checkPassword, nameKey } from './text-rules.js';

/** Credential-cache lookups of password logins, by outcome (parley_auth_cache_total). */
export interface CredentialCacheCounts {
  hit: number;
  miss: number;
  unavailable: number;
}

export type LoginIdentity = { readonly id: UserId } | { readonly name: string };

/**
 * Registration, password login, token resume and logout. Password work goes through the admission queue
 * (bcrypt is ~45 hashes/s at cost 10) and the login guard (per-address and per-account limits, backoff).
 */
export class AuthService {
  private dummyHash: Promise<string> | undefined;
  /** Lookups of the verified-credential cache by outcome (read by metrics). */
  readonly cacheCounts: CredentialCacheCounts = { hit: 0, miss: 0, unavailable: 0 };

  constructor(
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
    private readonly tokens: SessionTokens,
    private readonly guard: LoginGuard,
    private readonly admission: PasswordAdmission,
    private readonly verified: CredentialCache,
    /** Devices' token epochs. */
    private readonly devices: Pick<MessageStore, 'openDevice' | 'bumpDeviceEpoch'>,
  ) {}

  /** `ip`: the client's address, for per-address limits. */
  async register(name: string, password: string, ip: string): Promise<UserRecord> {
    checkName(name, 'name');
    checkPassword(password);
    await this.guard.beforeRegister(ip);
    return this.users.create(name, await this.admission.for(this.hasher, ip).hash(password));
  }

  /**
   * A password login. Its reads go out together: by id, the user row (MySQL) alongside one Redis round
   * trip for the address rate, the account's failure record and the credential cache; by name, the row
   * and the address rate first (the account's key depends on whether the name exists), then the rest.
   */
  async login(identity: LoginIdentity, password: string, ip: string): Promise<UserRecord> {
    let user: UserRecord | undefined;
    let attempt: PasswordAttempt;
    let recalled: RecalledCredential | undefined;
    let account: string;
    if ('id' in identity) {
      // One key per real account whether it is named by id or by name; unknown ids keyed as given.
      account = `id:${identity.id}`;
      [attempt, user, recalled] = await Promise.all([
        this.guard.beforePassword(ip, account, true),
        this.users.findById(identity.id),
        this.verified.recall(identity.id),
      ]);
    } else {
      [, user] = await Promise.all([this.guard.beforeLogin(ip), this.users.findByName(identity.name)]);
      // Unknown names keyed as given, so they are limited like real accounts.
      account = user ? `id:${user.id}` : `name:${nameKey(identity.name)}`;
      [attempt, recalled] = await Promise.all([
        this.guard.beforePassword(ip, account),
        user ? this.verified.recall(user.id) : undefined,
      ]);
    }
    const hasher = this.admission.for(this.hasher, ip);
    // Every refusal pays one bcrypt check (a dummy one for unknown accounts and over-long passwords), so
    // response time does not reveal which accounts exist.
    const ok =
      user && recalled && Buffer.byteLength(password) <= 72
        ? await this.verify(hasher, user, password, recalled)
        : (await hasher.verify(password, await this.getDummyHash()), false);
    if (!user || !ok) {
      await this.guard.failed(ip, account);
      throw new AppError('AUTH_BAD_CREDENTIALS');
    }
    await this.guard.succeeded(ip, account, attempt);
    return user;
  }

  /**
   * bcrypt, unless this very password was verified for this user moments ago (the credential cache, on any
   * node of the cluster). A cache that cannot answer counts as a miss: the login pays bcrypt, never fails.
   */
  private async verify(
    hasher: PasswordHasher,
    user: UserRecord,
    password: string,
    recalled: RecalledCredential,
  ): Promise<boolean> {
    const found = recalled.check(user.passwordHash, password);
    this.cacheCounts[found]++;
    if (found === 'hit') return true;
    const ok = await hasher.verify(password, user.passwordHash);
    // Awaited (a Redis SET is nothing next to the bcrypt just paid): once the client has its reply, a login
    // on any node finds the entry. Best effort, never rejects.
    if (ok) await this.verified.remember(user.id, user.passwordHash, password);
    return ok;
  }

  issueToken(user: UserRecord, device: DeviceId, deviceEpoch: number): string {
    return this.tokens.issue(user.id, user.sessionEpoch, device, deviceEpoch);
  }

  /**
   * The user and device a session token belongs to, if it is valid and revoked neither by a logout of the
   * device nor by a "log out everywhere". The device's epoch is read before anything is attached, so a
   * revoked token cannot even displace the device's live session.
   */
  async resume(token: string): Promise<{ user: UserRecord; device: DeviceId; opened: DeviceCursor }> {
    const claims = this.tokens.verify(token);
    const user = claims ? await this.users.findById(claims.userId) : undefined;
    if (!claims || !user || user.sessionEpoch !== claims.epoch) throw new AppError('TOKEN_INVALID');
    const opened = await this.devices.openDevice(user.id, claims.device);
    if (opened.epoch !== claims.deviceEpoch) throw new AppError('TOKEN_INVALID');
    return { user, device: claims.device, opened };
  }

  /** Revokes the device's session tokens. */
  async logoutDevice(userId: UserId, device: DeviceId): Promise<void> {
    await this.devices.bumpDeviceEpoch(userId, device);
  }

  /** Revokes every session token of the user, on every device. */
  async logoutEverywhere(userId: UserId): Promise<void> {
    await this.users.bumpSessionEpoch(userId);
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash('parley-dummy-password');
    return this.dummyHash;
  }
}
