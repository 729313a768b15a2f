import { ParleyClient, type ParleyClientOptions } from '../../src/client/parley-client.js';
import type { Traffic } from '../../scripts/lib/traffic.js';

/** What the presence churn and the typing load did, and what the chatting devices received of it. */
export interface SideTrafficCounts {
  readonly logins: number;
  readonly logouts: number;
  readonly churnFailures: number;
  readonly presenceReceived: number;
  readonly typingSent: number;
  readonly typingRefused: number;
  readonly typingReceived: number;
}

export interface SideTrafficOptions {
  readonly host: string;
  readonly port: number;
  /** Logins per second of churn users (each logs out `onlineMs` later). 0: none. */
  readonly churnPerS: number;
  /** Churn users; each is a friend of `churnFriends` chatting users. */
  readonly churnUsers: number;
  readonly churnFriends: number;
  /** How long a churn user stays online. @default 1000 */
  readonly onlineMs?: number;
  /** Typing notifications per second per chatting device (alternately start and stop, to its pair peer). 0: none. */
  readonly typingPerS: number;
  readonly namePrefix: string;
  /** Settings for the churn users' clients (transport, TLS). */
  readonly clientOptions?: Partial<ParleyClientOptions>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Presence and typing beside a Traffic's chat: churn users who log in and out at a steady rate (every
 * login and logout is a presence change pushed to their online friends, who are chatting users), and
 * typing start/stop from every chatting device to its peer. Counts what was sent and what arrived.
 */
export class SideTraffic {
  private readonly churners: { name: string; client?: ParleyClient }[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private counts = {
    logins: 0,
    logouts: 0,
    churnFailures: 0,
    presenceReceived: 0,
    typingSent: 0,
    typingRefused: 0,
    typingReceived: 0,
  };

  constructor(
    private readonly traffic: Traffic,
    private readonly options: SideTrafficOptions,
  ) {
    for (const client of traffic.clients) {
      client.on('presence', () => this.counts.presenceReceived++);
      client.on('typing', () => this.counts.typingReceived++);
    }
  }

  private open(): ParleyClient {
    return new ParleyClient({
      host: this.options.host,
      port: this.options.port,
      transport: 'tcp',
      ...this.options.clientOptions,
      device: 'churn',
      reconnect: false,
      requestTimeoutMs: 30_000,
    });
  }

  /** Registers the churn users and befriends each with `churnFriends` chatting users (round robin). */
  async prepare(): Promise<void> {
    if (this.options.churnPerS <= 0) return;
    const users = this.traffic.users;
    let next = 0;
    for (let i = 0; i < this.options.churnUsers; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, this.options.churnUsers - i) }, async (_, j) => {
          const name = `${this.options.namePrefix}-churn-${i + j}`;
          const client = this.open();
          await client.connect();
          await client.register(name, 'pw');
          await client.login({ name }, 'pw');
          const friends = Array.from(
            { length: Math.min(this.options.churnFriends, users.length) },
            () => users[next++ % users.length]!,
          );
          for (const friend of friends) await client.addFriend(friend.id);
          await client.logout();
          client.close();
          this.churners.push({ name });
        }),
      );
    }
  }

  /** Starts the churn and the typing until stop(). */
  start(): void {
    this.running = true;
    if (this.options.churnPerS > 0) {
      let turn = 0;
      this.timers.push(
        setInterval(() => {
          // The next churn user that is offline; none free: the pool is too small for the rate (counted).
          for (let k = 0; k < this.churners.length; k++) {
            const churner = this.churners[turn++ % this.churners.length]!;
            if (churner.client) continue;
            this.track(this.churn(churner));
            return;
          }
          this.counts.churnFailures++;
        }, 1000 / this.options.churnPerS),
      );
    }
    if (this.options.typingPerS > 0) {
      const every = 1000 / this.options.typingPerS;
      for (const user of this.traffic.users) {
        const peer = this.traffic.peerOf(user);
        for (const client of user.devices) {
          let state: 'start' | 'stop' = 'start';
          const tick = () => {
            const sent = client.typing({ with: peer.id }, state).then(
              (ok) => void (ok && this.counts.typingSent++),
              () => void this.counts.typingRefused++,
            );
            state = state === 'start' ? 'stop' : 'start';
            this.track(sent);
          };
          // Random phases: started together, every device would type in the same millisecond.
          const timer = setTimeout(
            () => this.running && this.timers.push(setInterval(tick, every)),
            Math.random() * every,
          );
          this.timers.push(timer);
        }
      }
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async churn(churner: { name: string; client?: ParleyClient }): Promise<void> {
    const client = this.open();
    churner.client = client;
    try {
      await client.connect();
      await client.login({ name: churner.name }, 'pw');
      this.counts.logins++;
      await sleep(this.options.onlineMs ?? 1000);
      await client.logout();
      this.counts.logouts++;
    } catch {
      this.counts.churnFailures++;
    } finally {
      client.close();
      churner.client = undefined;
    }
  }

  /** Stops starting work and waits for the work in flight. */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.inFlight);
  }

  report(): SideTrafficCounts {
    return { ...this.counts };
  }
}
