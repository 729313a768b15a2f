import { waitDrained } from './wait-drained.js';
import { ParleyClient, type ChatMessage, type ParleyClientOptions } from '../../src/client/parley-client.js';

export interface TrafficOptions {
  readonly host: string;
  readonly port: number;
  readonly transport?: 'tcp' | 'ws';
  /** Number of users, paired after login: half the pairs on one node, half across nodes (as placement allows). */
  readonly clients: number;
  /**
   * Devices of each user that has several (each another ParleyClient of the user, logged in after the first,
   * on whatever node the endpoint gives it; every device sends). @default 1
   */
  readonly devicesPerUser?: number;
  /** Share of the users that have `devicesPerUser` devices; the others have one. @default 1 */
  readonly deviceShare?: number;
  /** Concurrent sends per device ("lanes"); order is checked per sending device and lane. */
  readonly lanes?: number;
  /** Fraction of sends that go to the sender's group (fan-out to every other member). */
  readonly groupShare?: number;
  /** Members per group; users are split into groups of this size. @default 10 */
  readonly groupSize?: number;
  /**
   * Friends per user besides the pair peer (who is always a friend when this is set): the next users in
   * order, so presence changes fan out. @default undefined: no friendships
   */
  readonly friends?: number;
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
  /** Deliveries counted: each acked send once at every device of every recipient and at the sender's other devices. */
  readonly delivered: number;
  /** Deliveries owed and never made: an acked message some device never received. */
  readonly lost: number;
  /** Messages a device emitted twice. */
  readonly duplicates: number;
  /** Messages that arrived at a device before an earlier one of the same sending device and lane. */
  readonly reordered: number;
  /** Copies of a device's own sends that came back to it (ignored by the accounting above). */
  readonly echoes: number;
  /** Of those, echoes the client library did not mark `echoOfOwnSend` (a UI would show them twice). */
  readonly unmarkedEchoes: number;
  readonly latenciesMs: Float64Array;
  readonly resumes: number;
  readonly users: number;
  /** Clients in all: every device of every user. */
  readonly devices: number;
}

/** Where an anomaly happened, for callers that attribute it to a phase of a run (the drill's faults). */
export interface Anomaly {
  readonly kind: 'duplicate' | 'reordered';
  /** performance.now() of the arrival. */
  readonly at: number;
  readonly receiver: string;
  readonly key: string;
}

/** One user of the traffic and its devices (the first is the one that registered). */
export interface TrafficUser {
  readonly id: number;
  readonly name: string;
  readonly devices: ParleyClient[];
}

/** Recipient count of a message that arrived before (or without) its ack. */
const UNACKED = Number.MAX_SAFE_INTEGER;

interface Expectation {
  recipients: number;
  received: number;
  /** performance.now() when the send started. */
  readonly sentAt: number;
  toGroup: boolean;
}

/** A client's place: its user and which of the user's devices it is (0: the first). */
interface DeviceSlot {
  readonly user: TrafficUser;
  readonly index: number;
  /** `<userId>.<index>`: how bodies and the accounting name a device. */
  readonly tag: string;
}

/** Bodies of warm-up sends (not counted) start with this. */
const WARMUP = 'warmup/';

/**
 * Many logged-in v2 users chatting in pairs (and optionally in groups) through an endpoint, a share of
 * them on several devices, with exact accounting: every body names its sending device, lane and counter;
 * every acked send is expected once at each device of each recipient and at the sender's other devices
 * (own copies); arrivals are checked per receiving device for loss, duplicates and per-lane order.
 */
export class Traffic {
  /** Every client: all devices of all users (a user's first device first). */
  readonly clients: ParleyClient[] = [];
  readonly users: TrafficUser[] = [];
  private running = false;
  private lanes: Promise<void>[] = [];
  private readonly slots = new Map<ParleyClient, DeviceSlot>();
  private readonly expected = new Map<string, Expectation>();
  private readonly lastCounter = new Map<string, number>();
  private readonly seenAt = new Map<string, Set<string>>();
  private readonly peers = new Map<TrafficUser, TrafficUser>();
  private readonly groupOf = new Map<TrafficUser, { id: number; members: TrafficUser[] }>();
  private sent = 0;
  private acked = 0;
  private delivered = 0;
  private duplicates = 0;
  private reordered = 0;
  private echoes = 0;
  private unmarkedEchoes = 0;
  private resumes = 0;
  /** Connect/register/login attempts that failed and were retried. */
  connectRetries = 0;
  private latencies: number[] = [];
  private waiters: (() => void)[] = [];
  measureLatency = true;
  /** Called on every acked send with the time (performance.now()) the send was started. */
  onAcked: ((client: ParleyClient, startedAt: number) => void) | undefined;
  /** Called on every duplicate or reordered arrival. */
  onAnomaly: ((anomaly: Anomaly) => void) | undefined;

  constructor(private readonly options: TrafficOptions) {
    const devices = options.devicesPerUser ?? 1;
    if (!Number.isInteger(devices) || devices < 1 || devices > 10)
      throw new Error(
        `devicesPerUser must be an integer from 1 to 10 (MAX_DEVICES_PER_USER), not ${devices}`,
      );
    const share = options.deviceShare ?? 1;
    if (!(share >= 0 && share <= 1)) throw new Error(`deviceShare must be between 0 and 1, not ${share}`);
  }

  private open(device: string): ParleyClient {
    return new ParleyClient({
      host: this.options.host,
      port: this.options.port,
      transport: this.options.transport ?? 'tcp',
      backoffMinMs: 50,
      backoffMaxMs: 1000,
      requestTimeoutMs: 30_000,
      ...this.options.clientOptions,
      // Always named: a load client must never generate one and store it in the user's config directory.
      device,
    });
  }

  /**
   * Registers and logs in every user's first device, then the other devices of the users that have
   * several, pairs the users (and puts them in groups when groupShare > 0, befriends them with `friends`),
   * and waits until every device of a multi-device user sees its own sends copied back.
   */
  async connect(): Promise<void> {
    const prefix = this.options.namePrefix ?? `t${Math.random().toString(36).slice(2, 7)}`;
    const concurrency = this.options.loginConcurrency ?? 50;
    const count = this.options.clients;
    for (let i = 0; i < count; i += concurrency) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(concurrency, count - i) }, (_, j) =>
          this.loginDevice(`${prefix}-${i + j}`, 0, true),
        ),
      );
      for (const client of batch) {
        const user: TrafficUser = { id: client.user!.id, name: client.user!.name, devices: [] };
        this.users.push(user);
        this.addDevice(user, client);
      }
    }
    const perUser = Math.max(1, this.options.devicesPerUser ?? 1);
    const share = this.options.deviceShare ?? 1;
    // Users with several devices are spread evenly: user i has them when ⌊(i+1)·share⌋ > ⌊i·share⌋.
    const multi = this.users.filter(
      (_, i) => perUser > 1 && Math.floor((i + 1) * share) > Math.floor(i * share),
    );
    const extra = multi.flatMap((user) =>
      Array.from({ length: perUser - 1 }, (_, k) => ({ user, index: k + 1 })),
    );
    for (let i = 0; i < extra.length; i += concurrency) {
      const batch = extra.slice(i, i + concurrency);
      const clients = await Promise.all(
        batch.map(({ user, index }) => this.loginDevice(user.name, index, false)),
      );
      clients.forEach((client, k) => this.addDevice(batch[k]!.user, client));
    }
    this.pair();
    if ((this.options.groupShare ?? 0) > 0) {
      const size = this.options.groupSize ?? 10;
      for (let i = 0; i < this.users.length; i += size) {
        const members = this.users.slice(i, i + size);
        const id = await members[0]!.devices[0]!.createGroup(`${prefix}-group-${i / size}`);
        await Promise.all(members.slice(1).map((u) => u.devices[0]!.joinGroup(id)));
        for (const member of members) this.groupOf.set(member, { id, members });
      }
    }
    if (this.options.friends !== undefined) await this.befriend(this.options.friends);
    await this.awaitOwnCopies(multi);
  }

  /** Connects and logs in one device (registering the user first when `register`), retrying a failed attempt. */
  private async loginDevice(name: string, index: number, register: boolean): Promise<ParleyClient> {
    // A real client retries a failed first connect; the retries are counted.
    for (let attempt = 0; ; attempt++) {
      const client = this.open(`d${index}`);
      try {
        await client.connect();
        if (register && (attempt === 0 || !(await this.loginOnly(client, name))))
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
  }

  private addDevice(user: TrafficUser, client: ParleyClient): void {
    const index = user.devices.length;
    user.devices.push(client);
    const slot = { user, index, tag: `${user.id}.${index}` };
    this.slots.set(client, slot);
    this.clients.push(client);
    client.on('message', (m) => this.onMessage(slot, m));
    client.on('resumed', () => this.resumes++);
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

  /** Each user befriends its pair peer and the next `others` users (friendships are mutual). */
  private async befriend(others: number): Promise<void> {
    const links = new Set<string>();
    const wanted: [TrafficUser, TrafficUser][] = [];
    const add = (a: TrafficUser, b: TrafficUser) => {
      const key = a.id < b.id ? `${a.id}-${b.id}` : `${b.id}-${a.id}`;
      if (a === b || links.has(key)) return;
      links.add(key);
      wanted.push([a, b]);
    };
    this.users.forEach((user, i) => {
      add(user, this.peers.get(user)!);
      for (let k = 1; k <= Math.min(others, this.users.length - 1); k++)
        add(user, this.users[(i + k) % this.users.length]!);
    });
    const concurrency = this.options.loginConcurrency ?? 50;
    for (let i = 0; i < wanted.length; i += concurrency)
      await Promise.all(
        wanted.slice(i, i + concurrency).map(([a, b]) =>
          a.devices[0]!.addFriend(b.id).catch((error: { code?: string }) => {
            if (error.code !== 'ALREADY_FRIENDS') throw error;
          }),
        ),
      );
  }

  /**
   * The node of a device learns that its user has several devices at login, or (the first device's node)
   * from a bus event shortly after the second device's login; sends in between are not copied to the
   * user's inbox (docs/PROTOCOL.md, "Devices"). So every device of such a user sends an uncounted warm-up
   * to its peer until the copy comes back to it; only then is every later send owed to the other devices.
   */
  private async awaitOwnCopies(users: readonly TrafficUser[]): Promise<void> {
    await Promise.all(
      users.flatMap((user) =>
        user.devices.map(async (client) => {
          const peer = this.peers.get(user)!;
          for (let attempt = 0; ; attempt++) {
            const body = `${WARMUP}${this.slots.get(client)!.tag}/${attempt}`;
            const echoed = new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => finish(false), 1000);
              const onMessage = (m: ChatMessage) => m.msg === body && finish(true);
              const finish = (ok: boolean) => {
                clearTimeout(timer);
                client.off('message', onMessage);
                resolve(ok);
              };
              client.on('message', onMessage);
            });
            await client.sendTo(peer.id, body);
            if (await echoed) return;
            if (attempt >= 20)
              throw new Error(
                `${user.name} device ${this.slots.get(client)!.index}: own sends never copied back`,
              );
          }
        }),
      ),
    );
  }

  /** Pairs of users whose first devices are on different nodes and on the same node, alternately, as placement allows. */
  private pair(): void {
    const byNode = new Map<string, TrafficUser[]>();
    for (const user of this.users) {
      const node = user.devices[0]!.node ?? '';
      const list = byNode.get(node) ?? [];
      list.push(user);
      byNode.set(node, list);
    }
    const pools = [...byNode.values()];
    const largest = () => pools.filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
    const link = (a: TrafficUser, b: TrafficUser) => (this.peers.set(a, b), this.peers.set(b, a));
    for (let cross = true; ; cross = !cross) {
      const open = largest();
      if (open.length === 0) break;
      if (open.length === 1 && open[0]!.length === 1) {
        link(open[0]!.pop()!, this.users[0]!);
        break;
      }
      if (cross && open.length >= 2) link(open[0]!.pop()!, open[1]!.pop()!);
      else if (open[0]!.length >= 2) link(open[0]!.pop()!, open[0]!.pop()!);
      else link(open[0]!.pop()!, open[1]!.pop()!);
    }
  }

  /** The pair peer of a user (its first device's peer user). */
  peerOf(user: TrafficUser): TrafficUser {
    return this.peers.get(user)!;
  }

  /** Pairs whose users' first devices sit on different nodes, and all pairs. */
  crossNodePairs(): { cross: number; total: number } {
    let cross = 0;
    let total = 0;
    for (const [a, b] of this.peers) {
      if (a.id > b.id) continue;
      total++;
      if (a.devices[0]!.node !== b.devices[0]!.node) cross++;
    }
    return { cross, total };
  }

  /** Starts sending on every lane of every device until stop(). */
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

  /** Waits until every acked message reached every device owed it, or the timeout; then reports. */
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
      echoes: this.echoes,
      unmarkedEchoes: this.unmarkedEchoes,
      latenciesMs: Float64Array.from(this.latencies).sort(),
      resumes: this.resumes,
      users: this.users.length,
      devices: this.clients.length,
    };
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  /** When each send that some device still lacks was started (performance.now()), and how many lack it. */
  missingSends(): { sentAt: number; missing: number }[] {
    const out: { sentAt: number; missing: number }[] = [];
    for (const e of this.expected.values())
      if (e.recipients !== UNACKED && e.received < e.recipients)
        out.push({ sentAt: e.sentAt, missing: e.recipients - e.received });
    return out;
  }

  /** The devices an acked send of `sender` is owed to: the recipients' devices and the sender's other ones. */
  private owedTo(sender: DeviceSlot, toGroup: boolean): ParleyClient[] {
    const users = toGroup ? this.groupOf.get(sender.user)!.members : [this.peers.get(sender.user)!];
    return [
      ...users.filter((u) => u !== sender.user).flatMap((u) => u.devices),
      ...sender.user.devices.filter((_, i) => i !== sender.index),
    ];
  }

  /**
   * For up to `limit` acked messages some device lacks: which device lacks it, whether the store has it
   * (that device's history), and where its inbox stands. A diagnosis for a failed run.
   */
  async explainMissing(limit = 5): Promise<string[]> {
    const byTag = new Map([...this.slots.values()].map((slot) => [slot.tag, slot]));
    const lines: string[] = [];
    for (const [key, e] of this.expected) {
      if (lines.length >= limit) break;
      if (e.recipients === UNACKED || e.received >= e.recipients) continue;
      const [tag, lane, counter] = key.split('/') as [string, string, string];
      const sender = byTag.get(tag)!;
      const group = this.groupOf.get(sender.user);
      const seen = this.seenAt.get(key) ?? new Set<string>();
      const toGroup = e.toGroup;
      const lacking = this.owedTo(sender, toGroup).filter((c) => !seen.has(this.slots.get(c)!.tag));
      const who = lacking[0];
      let stored = 'unknown';
      if (who) {
        const own = this.slots.get(who)!.user === sender.user;
        const query = toGroup
          ? { groupid: group!.id }
          : { with: own ? this.peers.get(sender.user)!.id : sender.user.id };
        const page = await who.history(query, undefined, 100).catch(() => undefined);
        const hit = page?.messages.find((m) => m.msg.startsWith(`${key}/`));
        stored = page
          ? hit
            ? `stored as mid ${hit.mid}`
            : 'not in the last 100 of history'
          : 'history failed';
      }
      const sync = who ? await who.sync(0, 1).catch(() => undefined) : undefined;
      const names = lacking.map((c) => `${c.user!.name}/${c.device}`).join(',');
      lines.push(
        `${key} (device ${tag}, lane ${lane}, #${counter}, ${toGroup ? 'group' : '1:1'}) missing at ${names}: ${stored}; ${who?.user?.name}/${who?.device} has seq ${who?.lastSeq}, server inbox last seq ${sync?.lastSeq}`,
      );
    }
    return lines;
  }

  /** Deliveries owed: acked sends not yet at every device owed them. (A send that failed but was stored anyway
   * and arrived is fine: nobody was promised it; its entry keeps the placeholder recipient count.) */
  private missing(): number {
    let missing = 0;
    for (const e of this.expected.values())
      if (e.recipients !== UNACKED && e.received < e.recipients) missing += e.recipients - e.received;
    return missing;
  }

  private async lane(client: ParleyClient, lane: number): Promise<void> {
    const slot = this.slots.get(client)!;
    const peer = this.peers.get(slot.user)!;
    const group = this.groupOf.get(slot.user);
    const groupShare = this.options.groupShare ?? 0;
    // Paced lanes start at random phases: started together they would send in bursts of every lane at once.
    const pace = this.options.intervalMs ?? 0;
    if (pace > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * pace));
    for (let counter = 0; this.running; counter++) {
      const toGroup = group !== undefined && group.members.length > 1 && Math.random() < groupShare;
      const key = `${slot.tag}/${lane}/${counter}`;
      const startedAt = performance.now();
      const body = `${key}/${startedAt}`;
      this.sent++;
      try {
        if (toGroup) await client.sendToGroup(group.id, body);
        else await client.sendTo(peer.id, body);
        this.acked++;
        this.onAcked?.(client, startedAt);
        const entry = this.expected.get(key) ?? { recipients: 0, received: 0, sentAt: startedAt, toGroup };
        entry.recipients = this.owedTo(slot, toGroup).length;
        entry.toGroup = toGroup;
        this.expected.set(key, entry);
        for (const wake of this.waiters.splice(0)) wake();
        if (pace > 0) await new Promise((resolve) => setTimeout(resolve, pace));
      } catch {
        // Not acked (e.g. UNAVAILABLE, or the client gave up): not counted as owed to anyone.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private onMessage(receiver: DeviceSlot, message: ChatMessage): void {
    if (message.msg.startsWith(WARMUP)) return;
    const [tag, lane, counter, sentAt] = message.msg.split('/') as [string, string, string, string];
    const key = `${tag}/${lane}/${counter}`;
    const me = receiver.tag;
    if (tag === me) {
      // The copy of this device's own send: every device of a multi-device user gets one, the sender too.
      this.echoes++;
      if (!message.echoOfOwnSend) this.unmarkedEchoes++;
      return;
    }
    const seen = this.seenAt.get(key) ?? new Set<string>();
    if (seen.has(me)) {
      this.duplicates++;
      this.onAnomaly?.({ kind: 'duplicate', at: performance.now(), receiver: me, key });
      return;
    }
    seen.add(me);
    this.seenAt.set(key, seen);
    this.delivered++;
    if (this.measureLatency) this.latencies.push(performance.now() - Number(sentAt));
    // An arrival before its ack is fine: the expectation is created (or completed) by whichever comes first.
    const entry = this.expected.get(key) ?? {
      recipients: UNACKED,
      received: 0,
      sentAt: Number(sentAt),
      toGroup: message.groupid !== undefined,
    };
    entry.received++;
    this.expected.set(key, entry);
    // One lane's sends are sequential, so each device's inbox holds them in counter order (1:1 and group alike).
    const laneKey = `${me}<${tag}/${lane}`;
    const last = this.lastCounter.get(laneKey) ?? -1;
    if (Number(counter) < last) {
      this.reordered++;
      this.onAnomaly?.({ kind: 'reordered', at: performance.now(), receiver: me, key });
    } else this.lastCounter.set(laneKey, Number(counter));
    for (const wake of this.waiters.splice(0)) wake();
  }
}
