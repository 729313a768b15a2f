import { AppError } from '../errors.js';
import type { AttemptWindow } from '../util/limiter-window.js';
import type { AttemptLimits } from './attempt-limits.js';

/** The password-guessing and sign-up policy (docs/OPERATIONS.md, "Security"). Every limit has a setting. */
export interface LoginGuardPolicy {
  /** Password logins per client address per minute (LOGIN_PER_IP_PER_MIN). */
  readonly loginsPerIpPerMin: number;
  /** Registrations per client address per hour (REGISTER_PER_IP_PER_HOUR). */
  readonly registrationsPerIpPerHour: number;
  /** Failed logins per (account, address) before backoff starts (LOGIN_FREE_FAILURES). */
  readonly freeFailures: number;
  /** Longest backoff after repeated failures from one address (LOGIN_BACKOFF_MAX_S). */
  readonly backoffMaxS: number;
  /** Failed logins of one account from all addresses, per 10 minutes, before every attempt is slowed (ACCOUNT_FAILURES_BEFORE_DELAY). */
  readonly accountFailuresBeforeDelay: number;
  /** The slow-down then added to each attempt on that account (ACCOUNT_DELAY_MS). */
  readonly accountDelayMs: number;
}

/** Failures are remembered this long per (account, address) and per account. */
const FAILURE_MEMORY_S = 3600;
const ACCOUNT_WINDOW_S = 600;

/**
 * Who may try a password, cluster-wide. Failed logins slow down per (account, address) with exponential
 * backoff (1 s, 2 s, 4 s … up to `backoffMaxS`) after `freeFailures`, and a success from that address
 * clears its record — so a stranger guessing from one address never stops the owner logging in from
 * another. An account under attack from many addresses is only slowed (each attempt waits
 * `accountDelayMs`), never locked. Addresses are also limited in logins per minute and registrations per
 * hour.
 */
export class LoginGuard {
  private readonly loginsByIp: AttemptWindow;
  private readonly registrationsByIp: AttemptWindow;
  private readonly failuresByAccountIp: AttemptWindow;
  private readonly backoffByAccountIp: AttemptWindow;
  private readonly failuresByAccount: AttemptWindow;

  constructor(
    limits: AttemptLimits,
    private readonly policy: LoginGuardPolicy,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.loginsByIp = limits.window('login-ip', policy.loginsPerIpPerMin, 60);
    this.registrationsByIp = limits.window('register-ip', policy.registrationsPerIpPerHour, 3600);
    this.failuresByAccountIp = limits.window('fail-account-ip', 1_000_000, FAILURE_MEMORY_S);
    this.backoffByAccountIp = limits.window('backoff-account-ip', 1, 1);
    this.failuresByAccount = limits.window('fail-account', 1_000_000, ACCOUNT_WINDOW_S);
  }

  /** Before a registration from `ip`. */
  async beforeRegister(ip: string): Promise<void> {
    const state = await this.registrationsByIp.consume(ip);
    if (!state.allowed) throw limited('too many registrations from your address', state.msBeforeReset);
  }

  /** Before a password login from `ip` (any account): the per-address rate. */
  async beforeLogin(ip: string): Promise<void> {
    const byIp = await this.loginsByIp.consume(ip);
    if (!byIp.allowed) throw limited('too many logins from your address', byIp.msBeforeReset);
  }

  /**
   * Before checking a password for `account` from `ip`: its backoff, and the slow-down of an attacked
   * account; with `countLogin` also the per-address rate (`beforeLogin`), so a login whose account is known
   * up front (by id) asks the store once. The reads go out together (one round trip to Redis, which
   * pipelines them); the refusals are judged in a fixed order: address rate, then backoff. Returns what
   * `succeeded` needs to know.
   */
  async beforePassword(ip: string, account: string, countLogin = false): Promise<PasswordAttempt> {
    const key = accountIp(account, ip);
    const [byIp, backoff, byAccount, failures] = await Promise.all([
      countLogin ? this.loginsByIp.consume(ip) : undefined,
      this.backoffByAccountIp.peek(key),
      this.failuresByAccount.peek(account),
      this.failuresByAccountIp.peek(key),
    ]);
    if (byIp && !byIp.allowed) throw limited('too many logins from your address', byIp.msBeforeReset);
    if (backoff && !backoff.allowed) {
      throw limited('too many wrong passwords for this account from your address', backoff.msBeforeReset);
    }
    if (byAccount && byAccount.consumed >= this.policy.accountFailuresBeforeDelay) {
      await this.sleep(this.policy.accountDelayMs);
    }
    // (A store that could not answer reads as nothing recorded: it could not clear anything either.)
    return { recorded: failures !== undefined || backoff !== undefined };
  }
  /** A wrong password (or unknown account) for `account` from `ip`. */
  async failed(ip: string, account: string): Promise<void> {
    const key = accountIp(account, ip);
    const [failures] = await Promise.all([
      this.failuresByAccountIp.consume(key),
      this.failuresByAccount.consume(account),
    ]);
    // After the free failures, each further one doubles the wait before the next attempt: 1 s, 2 s, 4 s …
    const over = failures.consumed - this.policy.freeFailures;
    if (over >= 0) await this.backoffByAccountIp.block(key, Math.min(2 ** over, this.policy.backoffMaxS));
  }

  /**
   * A successful login clears that address's record for the account — nothing to clear (no round trip)
   * when `beforePassword` found none. A failure recorded by a concurrent attempt after that look stays;
   * it ages out or the next success clears it.
   */
  async succeeded(ip: string, account: string, attempt?: PasswordAttempt): Promise<void> {
    if (attempt && !attempt.recorded) return;
    const key = accountIp(account, ip);
    await Promise.all([this.failuresByAccountIp.reset(key), this.backoffByAccountIp.reset(key)]);
  }
}

/** What `beforePassword` saw of the (account, address) record. */
export interface PasswordAttempt {
  /** Failures or a backoff were recorded for this account from this address. */
  readonly recorded: boolean;
}

function accountIp(account: string, ip: string): string {
  return `${account}|${ip}`;
}

function limited(what: string, retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError('RATE_LIMITED', `${what}; try again in ${seconds} s`, { retryAfterMs: seconds * 1000 });
}
