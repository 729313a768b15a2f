import { waitDrained } from './wait-drained.js';
import { ParleyClient, type ChatMessage, type ParleyClientOptions } from '../../src/client/parley-client.js';

export interface TrafficOptions {
  readonly host: string;
  readonly port: number;
  readonly transport?: 'tcp' | 'ws';
  /** Number of clients, paired after login: half the pairs on one node, half across nodes (as placement allows). */
  readonly clients: number;
  /** Concurrent sends per client ("lanes"); order is checked per sender and lane. */
  readonly lanes?: number;
  /** Fraction of sends that go to the sender's group (fan-out to every other member). */
  readonly groupShare?: number;
  /** Members per group; clients are split into groups of this size. @default 10 */
  readonly groupSize?: number;
  /** Logins at once. */
  readonly loginConcurrency?: number;
  readonly namePrefix?: string;
  /** Pause between two sends of one lane (0: as fast as acks come back). @default 0 */
  readonly intervalMs?: number;
  /** Client settings (heartbeat, silence and connect timeouts) for every client. */
  readonly clientOptions?: Partial<ParleyClientOptions>;
}

export interface TrafficReport {
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  /** Acked messages some recipient never received. */
  readonly lost: number;
  /** Messages a client emitted twice. */
  readonly duplicates: number;
  /** Messages that arrived before an earlier one of the same sender and lane. */
  readonly reordered: number;
  readonly latenciesMs: Float64Array;
  readonly resumes: number;
}

/** Recipient count of a message that arrived before (or without) its ack. */
const UNACKED = Number.MAX_SAFE_INTEGER;

interface Expectation {
  recipients: number;
  received: number;
}

/**
 * Many logged-in v2 clients chatting in pairs (and optionally in one group) through an endpoint, with
 * exact accounting: every body names its sender, lane and counter, every acked send is expected at each
 * recipient, and arrivals are checked for loss, duplicates and per-lane order.
 */
export class Traffic {
  readonly clients: ParleyClient[] = [];
  private running = false;
  private lanes: Promise<void>[] = [];
  private readonly expected = new Map<string, Expectation>();
  private readonly lastCounter = new Map<string, number>();
  private readonly seenAt = new Map<string, Set<string>>();
  private readonly peers = new Map<ParleyClient, ParleyClient>();
  private readonly groupOf = new Map<ParleyClient, { id: number; size: number }>();
  private sent = 0;
  private acked = 0;
  private delivered = 0;
  private duplicates = 0;
  private reordered = 0;
  private resumes = 0;
  /** Connect/register/login attempts that failed and were retried. */
  connectRetries = 0;
  private latencies: number[] = [];
  private waiters: (() => void)[] = [];
  measureLatency = true;
  /** Called on every acked send with the time (performance.now()) the send was started. */
  onAcked: ((client: ParleyClient, startedAt: number) => void) | undefined;

  constructor(private readonly options: TrafficOptions) {}

  /** Registers, logs in and pairs every client (all join one group when groupShare > 0). */
  async connect(): Promise<void> {
    const prefix = this.options.namePrefix ?? `t${Math.random().toString(36).slice(2, 7)}`;
    const concurrency = this.options.loginConcurrency ?? 50;
    const open = () =>
      new ParleyClient({
        host: this.options.host,
        port: this.options.port,
        transport: this.options.transport ?? 'tcp',
        backoffMinMs: 50,
        backoffMaxMs: 1000,
        requestTimeoutMs: 30_000,
        ...this.options.clientOptions,
      });
    for (let i = 0; i < this.options.clients; i += concurrency) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(concurrency, this.options.clients - i) }, async (_, j) => {
          const name = `${prefix}-${i + j}`;
          // A real client retries a failed first connect; the retries are counted.
          for (let attempt = 0; ; attempt++) {
            const client = open();
            try {
              await client.connect();
              if (attempt === 0 || !(await this.loginOnly(client, name)))
                await client.register(name, 'pw').catch(() => undefined);
              if (!client.user) await client.login({ name }, 'pw');
              return client;
            } catch (error) {
              client.close();
              this.connectRetries++;
              if (attempt >= 5) throw error;
              await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
            }
          }
        }),
      );
      for (const client of batch) {
        this.clients.push(client);
        client.on('message', (m) => this.onMessage(client, m));
        client.on('resumed', () => this.resumes++);
      }
    }
    this.pair();
    if ((this.options.groupShare ?? 0) > 0) {
      const size = this.options.groupSize ?? 10;
      for (let i = 0; i < this.clients.length; i += size) {
        const members = this.clients.slice(i, i + size);
        const id = await members[0]!.createGroup(`${prefix}-group-${i / size}`);
        await Promise.all(members.slice(1).map((c) => c.joinGroup(id)));
        for (const member of members) this.groupOf.set(member, { id, size: members.length });
      }
    }
  }

  /** Tries to log in (after a retry the account may exist already); false when it does not. */
  private async loginOnly(client: ParleyClient, name: string): Promise<boolean> {
    try {
      await client.login({ name }, 'pw');
      return true;
    } catch {
      return false;
    }
  }

  /** Pairs of clients on different nodes (cross) and on the same node, alternately, as placement allows. */
  private pair(): void {
    const byNode = new Map<string, ParleyClient[]>();
    for (const client of this.clients) {
      const list = byNode.get(client.node ?? '') ?? [];
      list.push(client);
      byNode.set(client.node ?? '', list);
    }
    const pools = [...byNode.values()];
    const largest = () => pools.filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
    const link = (a: ParleyClient, b: ParleyClient) => (this.peers.set(a, b), this.peers.set(b, a));
    for (let cross = true; ; cross = !cross) {
      const open = largest();
      if (open.length === 0) break;
      if (open.length === 1 && open[0]!.length === 1) {
        link(open[0]!.pop()!, this.clients[0]!);
        break;
      }
      if (cross && open.length >= 2) link(open[0]!.pop()!, open[1]!.pop()!);
      else if (open[0]!.length >= 2) link(open[0]!.pop()!, open[0]!.pop()!);
      else link(open[0]!.pop()!, open[1]!.pop()!);
    }
  }

  /** Pairs whose two clients sit on different nodes, and all pairs. */
  crossNodePairs(): { cross: number; total: number } {
    let cross = 0;
    let total = 0;
    for (const [a, b] of this.peers) {
      if (a.user!.id > b.user!.id) continue;
      total++;
      if (a.node !== b.node) cross++;
    }
    return { cross, total };
  }

  /** Starts sending on every lane of every client until stop(). */
  start(): void {
    this.running = true;
    const lanes = this.options.lanes ?? 1;
    this.lanes = this.clients.flatMap((client) =>
      Array.from({ length: lanes }, (_, lane) => this.lane(client, lane)),
    );
  }

  /** Stops sending and waits for sends in flight to settle. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.lanes);
  }

  /** Waits until every acked message reached every recipient, or the timeout; then reports. */
  async drain(timeoutMs = 30_000): Promise<TrafficReport> {
    await waitDrained(() => this.missing(), this.waiters, timeoutMs);
    return this.report();
  }

  /** Forgets the latencies measured so far (the end of a warm-up). */
  clearLatencies(): void {
    this.latencies = [];
  }

  report(): TrafficReport {
    return {
      sent: this.sent,
      acked: this.acked,
      delivered: this.delivered,
      lost: this.missing(),
      duplicates: this.duplicates,
      reordered: this.reordered,
      latenciesMs: Float64Array.from(this.latencies).sort(),
      resumes: this.resumes,
    };
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  /**
   * For up to `limit` acked messages some recipient lacks: who lacks it, whether the store has it (the
   * recipient's history), and where that recipient's inbox stands. A diagnosis for a failed run.
   */
  async explainMissing(limit = 5): Promise<string[]> {
    const byId = new Map(this.clients.map((c) => [c.user!.id, c]));
    const lines: string[] = [];
    for (const [key, e] of this.expected) {
      if (lines.length >= limit) break;
      if (e.recipients === UNACKED || e.received >= e.recipients) continue;
      const [senderId, lane, counter] = key.split('/').map(Number) as [number, number, number];
      const sender = byId.get(senderId)!;
      const group = this.groupOf.get(sender);
      const seen = this.seenAt.get(key) ?? new Set<string>();
      const candidates =
        e.recipients === 1
          ? [this.peers.get(sender)!]
          : this.clients.filter((c) => this.groupOf.get(c)?.id === group?.id && c !== sender);
      const lacking = candidates.filter((c) => !seen.has(String(c.user!.id)));
      const who = lacking[0];
      let stored = 'unknown';
      if (who) {
        const query = e.recipients === 1 ? { with: senderId } : { groupid: group!.id };
        const page = await who.history(query, undefined, 100).catch(() => undefined);
        const hit = page?.messages.find((m) => m.msg.startsWith(`${key}/`));
        stored = page
          ? hit
            ? `stored as mid ${hit.mid}`
            : 'not in the last 100 of history'
          : 'history failed';
      }
      const sync = who ? await who.sync(0, 1).catch(() => undefined) : undefined;
      lines.push(
        `${key} (lane ${lane}, #${counter}, ${e.recipients === 1 ? '1:1' : 'group'}) missing at ${lacking.map((c) => c.user!.name).join(',')}: ${stored}; ${who?.user?.name} has seq ${who?.lastSeq}, server inbox last seq ${sync?.lastSeq}`,
      );
    }
    return lines;
  }

  /** Deliveries owed: acked sends not yet at every recipient. (A send that failed but was stored anyway
   * and arrived is fine: nobody was promised it; its entry keeps the placeholder recipient count.) */
  private missing(): number {
    let missing = 0;
    for (const e of this.expected.values())
      if (e.recipients !== UNACKED && e.received < e.recipients) missing += e.recipients - e.received;
    return missing;
  }

  private async lane(client: ParleyClient, lane: number): Promise<void> {
    const peer = this.peers.get(client)!;
    const group = this.groupOf.get(client);
    const groupShare = this.options.groupShare ?? 0;
    // Paced lanes start at random phases: started together they would send in bursts of every lane at once.
    const pace = this.options.intervalMs ?? 0;
    if (pace > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * pace));
    for (let counter = 0; this.running; counter++) {
      const toGroup = group !== undefined && group.size > 1 && Math.random() < groupShare;
      const key = `${client.user!.id}/${lane}/${counter}`;
      const startedAt = performance.now();
      const body = `${key}/${startedAt}`;
      this.sent++;
      try {
        if (toGroup) await client.sendToGroup(group.id, body);
        else await client.sendTo(peer.user!.id, body);
        this.acked++;
        this.onAcked?.(client, startedAt);
        const entry = this.expected.get(key) ?? { recipients: 0, received: 0 };
        entry.recipients = toGroup ? group.size - 1 : 1;
        this.expected.set(key, entry);
        if (pace > 0) await new Promise((resolve) => setTimeout(resolve, pace));
      } catch {
        // Not acked (e.g. UNAVAILABLE, or the client gave up): not counted as owed to anyone.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private onMessage(receiver: ParleyClient, message: ChatMessage): void {
    const [sender, lane, counter, sentAt] = message.msg.split('/');
    const key = `${sender}/${lane}/${counter}`;
    const seen = this.seenAt.get(key) ?? new Set<string>();
    const me = String(receiver.user?.id);
    if (seen.has(me)) {
      this.duplicates++;
      return;
    }
    seen.add(me);
    this.seenAt.set(key, seen);
    this.delivered++;
    if (this.measureLatency) this.latencies.push(performance.now() - Number(sentAt));
    // An arrival before its ack is fine: the expectation is created (or completed) by whichever comes first.
    const entry = this.expected.get(key) ?? { recipients: UNACKED, received: 0 };
    entry.received++;
    this.expected.set(key, entry);
    // One lane's sends are sequential, so each recipient's inbox holds them in counter order (1:1 and group alike).
    const laneKey = `${me}<${sender}/${lane}`;
    const last = this.lastCounter.get(laneKey) ?? -1;
    if (Number(counter) < last) this.reordered++;
    else this.lastCounter.set(laneKey, Number(counter));
    for (const wake of this.waiters.splice(0)) wake();
  }
}
