import { AppError } from '../errors.js';
import type { PasswordHasher } from './ports.js';

/** Bounds of the password-hashing queue (BCRYPT_CONCURRENCY, BCRYPT_QUEUE, BCRYPT_QUEUE_PER_IP). */
export interface AdmissionLimits {
  /** Hashes running at once (libuv's threadpool has 4 threads by default). */
  readonly concurrency: number;
  /** Hashes waiting at most; more get RATE_LIMITED with a retry hint. */
  readonly queue: number;
  /** Hashes one client address may have running or waiting. */
  readonly perIp: number;
}

interface Waiting {
  readonly run: () => void;
}

/**
 * Global admission for bcrypt work: at ~45 hashes/s (cost 10) a login storm would otherwise queue every
 * login behind it. A bounded number run at once; the rest wait in one queue per client address, served in
 * turn (round robin), so a flood from a few addresses cannot starve everyone else; when the queue is full
 * or an address has its share, the attempt is refused at once with a retry hint.
 */
export class PasswordAdmission {
  private running = 0;
  private waitingCount = 0;
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly perIp = new Map<string, number>();
  /** Median-ish time of one hash, for the retry hint. */
  private hashMs = 100;

  constructor(private readonly limits: AdmissionLimits) {}

  /** The hasher with every call admitted on behalf of `ip`. */
  for(hasher: PasswordHasher, ip: string): PasswordHasher {
    return {
      hash: (password) => this.run(ip, () => hasher.hash(password)),
      verify: (password, hash) => this.run(ip, () => hasher.verify(password, hash)),
    };
  }

  /** Hashes running and waiting (metrics, tests). */
  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }

  private run<T>(ip: string, work: () => Promise<T>): Promise<T> {
    const mine = this.perIp.get(ip) ?? 0;
    const mustWait = this.running >= this.limits.concurrency;
    if (mine >= this.limits.perIp || (mustWait && this.waitingCount >= this.limits.queue)) {
      const retryAfterMs = Math.max(
        1000,
        Math.ceil(((this.waitingCount + 1) * this.hashMs) / this.limits.concurrency / 1000) * 1000,
      );
      return Promise.reject(
        new AppError(
          'RATE_LIMITED',
          `the server is busy checking passwords; try again in ${retryAfterMs / 1000} s`,
          {
            retryAfterMs,
          },
        ),
      );
    }
    this.perIp.set(ip, mine + 1);
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        const began = Date.now();
        // Through a promise even if `work` throws at once, so the counters are always released.
        Promise.resolve()
          .then(work)
          .then(
            (value) => {
              this.finish(ip, Date.now() - began);
              resolve(value);
            },
            (error: unknown) => {
              this.finish(ip, Date.now() - began);
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          );
      };
      if (!mustWait) start();
      else this.enqueue(ip, { run: start });
    });
  }

  private enqueue(ip: string, item: Waiting): void {
    const queue = this.waiting.get(ip);
    if (queue) queue.push(item);
    else this.waiting.set(ip, [item]);
    this.waitingCount++;
  }

  private finish(ip: string, tookMs: number): void {
    this.running--;
    this.hashMs = this.hashMs * 0.9 + tookMs * 0.1;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left === 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
    // Round robin: the first address in line gets one turn, then goes to the back.
    const next = this.waiting.entries().next();
    if (next.done) return;
    const [nextIp, queue] = next.value;
    const item = queue.shift()!;
    this.waiting.delete(nextIp);
    if (queue.length > 0) this.waiting.set(nextIp, queue);
    this.waitingCount--;
    item.run();
  }
}
