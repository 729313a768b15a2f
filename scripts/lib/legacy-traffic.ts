import { waitDrained } from './wait-drained.js';
import { connect, type Socket } from 'node:net';

/** The original client's receive buffer: a read of this many bytes or more would have aborted it. */
const RECV_BUFFER = 1024;
const LOGIN_MSG = 1;
const LOGIN_MSG_ACK = 2;
const REG_MSG = 4;
const REG_MSG_ACK = 5;
const ONE_CHAT_MSG = 6;
const ERROR_MSG = 11;

export interface LegacyTrafficOptions {
  readonly host: string;
  readonly port: number;
  /** Users, one TCP connection each, paired 1:1 (an even number). */
  readonly clients: number;
  /**
   * 0: a closed loop — each user keeps `window` messages unshown at its partner and sends the next when
   * one is shown (v1 has no acks; being shown is the only completion there is). > 0: an open loop —
   * each user sends every `intervalMs` whatever happened to the earlier ones. @default 0
   */
  readonly intervalMs?: number;
  /** Closed loop: messages a user may have on their way at once. @default 1 */
  readonly window?: number;
  /**
   * Closed loop over all users instead of per user: this many messages on their way in the whole load,
   * each sent by the next user in turn when one is shown (1: unloaded latency). Overrides `window`.
   */
  readonly inFlight?: number;
  readonly loginConcurrency?: number;
  readonly namePrefix?: string;
  /**
   * How requests end: NUL as the original does (the server then pads each frame to 1024 bytes), or a
   * newline (tests: plain lines, so what pacing alone does shows). @default '\0'
   */
  readonly terminator?: '\0' | '\n';
}

/** What reads would have done to the original client, and the message accounting. */
export interface LegacyTrafficReport {
  readonly sent: number;
  /** First showings. */
  readonly delivered: number;
  /** Sent, never shown (after the drain), refusals included. */
  readonly lost: number;
  /** Error replies (msgid 11) the original client would have ignored, e.g. RATE_LIMITED sends. */
  readonly refused: number;
  readonly duplicates: number;
  /** Shown before an earlier message of the same sender. */
  readonly reordered: number;
  readonly latenciesMs: Float64Array;
  /** The same latencies split by the class of each sender (`classify`), sorted; empty without classes. */
  readonly latenciesByClass: Readonly<Record<string, Float64Array>>;
  /** Socket reads, and the reads that would have aborted the original client, by cause. */
  readonly reads: number;
  readonly violations: {
    /** Reads that held any of the below (one read can hold several causes). */
    readonly reads: number;
    /** More than one JSON document before the read's first NUL. */
    readonly merged: number;
    /** A full read (1024 bytes) with no NUL: no room for the terminator. */
    readonly oversize: number;
    /** A read that does not hold one whole document (a frame cut by a read, or only padding). */
    readonly split: number;
  };
}

/** One v1 user on its own connection: reads checked the way the original client would take them. */
class LegacyUser {
  id = 0;
  peer!: LegacyUser;
  private partial = '';
  private waiter: ((reply: Record<string, unknown>) => void) | undefined;
  counter = 0;
  /** The last counter shown from the partner. */
  lastShown = -1;
  /** The login reply's `node`, when the server names itself there. */
  node: string | undefined;
  /** Latency class of this user's sends (see LegacyTraffic.classify). */
  latencyClass: string | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly name: string,
    private readonly traffic: LegacyTraffic,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => {});
  }

  static open(traffic: LegacyTraffic, host: string, port: number, name: string): Promise<LegacyUser> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => resolve(new LegacyUser(socket, name, traffic)));
      socket.once('error', reject);
    });
  }

  /** REG_MSG, then LOGIN_MSG on the same connection, as the original client's menu allows. */
  async enroll(): Promise<void> {
    const reg = await this.request({ msgid: REG_MSG, name: this.name, password: 'pw' });
    if (reg.errno !== 0) throw new Error(`register ${this.name}: errno ${String(reg.errno)}`);
    this.id = reg.id as number;
    const login = await this.request({ id: this.id, msgid: LOGIN_MSG, password: 'pw' });
    if (login.errno !== 0) throw new Error(`login ${this.name}: errno ${String(login.errno)}`);
    if (typeof login.node === 'string') this.node = login.node;
  }

  /** `chat:<peer>:<body>` with the original's key order and trailing NUL. */
  chat(body: string): void {
    const frame = {
      id: this.id,
      msg: body,
      msgid: ONE_CHAT_MSG,
      name: this.name,
      time: '2026-11-27 12:00:00',
      toid: this.peer.id,
    };
    this.socket.write(`${JSON.stringify(frame)}${this.traffic.terminator}`);
  }

  close(): void {
    this.socket.destroy();
  }

  private request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const sorted = Object.fromEntries(Object.entries(frame).sort(([a], [b]) => (a < b ? -1 : 1)));
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.socket.once('close', () => reject(new Error(`${this.name}: connection closed`)));
      this.socket.write(`${JSON.stringify(sorted)}${this.traffic.terminator}`);
    });
  }

  /**
   * Data as Node read it, cut into the `recv(fd, buf, 1024)` calls the original would make, each checked
   * the way its parser takes it (up to the first NUL, exactly one document). The accounting reads the byte
   * stream instead (documents end at NULs and newlines), so a bad read is counted and the run goes on.
   */
  private onChunk(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += RECV_BUFFER)
      this.check(chunk.subarray(at, Math.min(at + RECV_BUFFER, chunk.length)));
    this.partial += chunk.toString('latin1');
    const docs = this.partial.split(/[\0\n]+/);
    this.partial = docs.pop()!;
    for (const doc of docs)
      if (doc)
        this.onFrame(JSON.parse(Buffer.from(doc, 'latin1').toString('utf8')) as Record<string, unknown>);
  }

  /** One recv() as the original parses it: up to the first NUL, which must hold exactly one document. */
  private check(read: Buffer): void {
    const stats = this.traffic.stats;
    stats.reads++;
    const nul = read.indexOf(0);
    const oversize = nul === -1 && read.length >= RECV_BUFFER;
    const text = (nul === -1 ? read : read.subarray(0, nul)).toString('latin1').trim();
    // Bodies and names here never hold braces, so "}{" only occurs between two documents.
    const merged = /\}\s*\{/.test(text);
    const split = !merged && !(text.startsWith('{') && text.endsWith('}'));
    if (merged) stats.merged++;
    if (oversize) stats.oversize++;
    if (split) stats.split++;
    if (merged || oversize || split) stats.violations++;
  }

  private onFrame(js: Record<string, unknown>): void {
    if (js.msgid === ONE_CHAT_MSG) this.traffic.shown(this, String(js.msg));
    // The original ignores errors: a refused send (e.g. RATE_LIMITED) is silently gone for its user.
    else if (js.msgid === ERROR_MSG) this.traffic.stats.refused++;
    else if (js.msgid === LOGIN_MSG_ACK || js.msgid === REG_MSG_ACK) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.(js);
    }
  }
}

/**
 * A lean load of original (v1) clients for benchmarks: one connection per user, pairs chatting 1:1, no
 * acks. Unlike LegacyClient it never aborts: it counts each read the original would have died on
 * (merged, oversized, split frames) and keeps going, so a run measures how often that happens.
 */
export class LegacyTraffic {
  private readonly users: LegacyUser[] = [];
  readonly stats = { reads: 0, violations: 0, merged: 0, oversize: 0, split: 0, refused: 0 };
  private running = false;
  private readonly timers = new Map<LegacyUser, NodeJS.Timeout>();
  private sent = 0;
  private delivered = 0;
  private duplicates = 0;
  private reordered = 0;
  private latencies: number[] = [];
  private latenciesByClass = new Map<string, number[]>();
  /** Per user: counters sent and not yet shown. */
  private readonly owed = new Map<LegacyUser, Set<number>>();
  private waiters: (() => void)[] = [];
  /** With `inFlight`: the index of the user who sends next. */
  private nextSender = 0;
  measureLatency = true;

  readonly terminator: string;

  constructor(private readonly options: LegacyTrafficOptions) {
    this.terminator = options.terminator ?? '\0';
  }

  /** Users logged in. */
  get count(): number {
    return this.users.length;
  }

  /** Registers and logs in every user (REG then LOGIN per connection) and pairs them. */
  async connect(): Promise<void> {
    if (this.options.clients % 2 !== 0) throw new Error('v1 users chat in pairs: give an even number');
    const prefix = this.options.namePrefix ?? `l${Math.random().toString(36).slice(2, 7)}`;
    const concurrency = this.options.loginConcurrency ?? 50;
    for (let i = 0; i < this.options.clients; i += concurrency) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(concurrency, this.options.clients - i) }, async (_, j) => {
          const user = await LegacyUser.open(
            this,
            this.options.host,
            this.options.port,
            `${prefix}-${i + j}`,
          );
          await user.enroll();
          return user;
        }),
      );
      this.users.push(...batch);
    }
    const pairs: [number, number][] = [];
    for (let i = 0; i < this.users.length; i += 2) pairs.push([i, i + 1]);
    this.pair(pairs);
  }

  /** The users in connect order: their ids and the node each login reply named (if any). */
  roster(): readonly { readonly id: number; readonly node: string | undefined }[] {
    return this.users.map((user) => ({ id: user.id, node: user.node }));
  }

  /**
   * Pairs users by their index in connect order (every user exactly once) instead of neighbours; call
   * after connect() and before start().
   */
  pair(pairs: readonly (readonly [number, number])[]): void {
    if (this.running) throw new Error('pair() before start()');
    const seen = new Set<number>();
    for (const [a, b] of pairs)
      for (const i of [a, b]) {
        if (seen.has(i) || this.users[i] === undefined) throw new Error(`pair(): user ${i} twice or unknown`);
        seen.add(i);
      }
    if (seen.size !== this.users.length) throw new Error('pair(): every user needs a partner');
    for (const [a, b] of pairs) {
      this.users[a]!.peer = this.users[b]!;
      this.users[b]!.peer = this.users[a]!;
    }
    for (const user of this.users) this.owed.set(user, new Set());
  }

  /** Latencies of each user's sends are also kept under `classes[index]` (e.g. same / cross node). */
  classify(classes: readonly string[]): void {
    this.users.forEach((user, i) => (user.latencyClass = classes[i]));
  }

  start(): void {
    this.running = true;
    const interval = this.options.intervalMs ?? 0;
    if (interval === 0 && this.options.inFlight !== undefined) {
      for (let k = 0; k < this.options.inFlight; k++) this.sendNext();
      return;
    }
    for (const user of this.users) {
      if (interval > 0) {
        // Random phases: started together they would send in bursts of every user at once.
        const tick = () => {
          if (!this.running) return;
          this.send(user);
          this.timers.set(user, setTimeout(tick, interval));
        };
        this.timers.set(user, setTimeout(tick, Math.random() * interval));
      } else {
        for (let w = 0; w < (this.options.window ?? 1); w++) this.send(user);
      }
    }
  }

  stop(): void {
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Waits until every message sent was shown, or the timeout; then reports. */
  async drain(timeoutMs = 30_000): Promise<LegacyTrafficReport> {
    await waitDrained(() => this.missing(), this.waiters, timeoutMs);
    return this.report();
  }

  clearLatencies(): void {
    this.latencies = [];
    this.latenciesByClass = new Map();
  }

  report(): LegacyTrafficReport {
    return {
      sent: this.sent,
      delivered: this.delivered,
      lost: this.missing(),
      refused: this.stats.refused,
      duplicates: this.duplicates,
      reordered: this.reordered,
      latenciesMs: Float64Array.from(this.latencies).sort(),
      latenciesByClass: Object.fromEntries(
        [...this.latenciesByClass].map(([name, list]) => [name, Float64Array.from(list).sort()]),
      ),
      reads: this.stats.reads,
      violations: {
        reads: this.stats.violations,
        merged: this.stats.merged,
        oversize: this.stats.oversize,
        split: this.stats.split,
      },
    };
  }

  close(): void {
    this.stop();
    for (const user of this.users) user.close();
  }

  private missing(): number {
    let missing = 0;
    for (const owed of this.owed.values()) missing += owed.size;
    return missing;
  }

  private sendNext(): void {
    this.send(this.users[this.nextSender]!);
    this.nextSender = (this.nextSender + 1) % this.users.length;
  }

  private send(user: LegacyUser): void {
    const counter = user.counter++;
    this.owed.get(user)!.add(counter);
    this.sent++;
    user.chat(`b/${user.id}/${counter}/${performance.now()}`);
  }

  /** A chat line reached `receiver`'s screen. */
  shown(receiver: LegacyUser, body: string): void {
    const [, , counterText, sentAt] = body.split('/');
    const counter = Number(counterText);
    const sender = receiver.peer;
    if (!this.owed.get(sender)!.delete(counter)) {
      this.duplicates++;
      return;
    }
    this.delivered++;
    if (this.measureLatency) {
      const latency = performance.now() - Number(sentAt);
      this.latencies.push(latency);
      if (sender.latencyClass !== undefined) {
        let list = this.latenciesByClass.get(sender.latencyClass);
        if (!list) this.latenciesByClass.set(sender.latencyClass, (list = []));
        list.push(latency);
      }
    }
    if (counter < receiver.lastShown) this.reordered++;
    else receiver.lastShown = counter;
    if (this.running && (this.options.intervalMs ?? 0) === 0)
      if (this.options.inFlight === undefined) this.send(sender);
      else this.sendNext();
    for (const wake of this.waiters.splice(0)) wake();
  }
}
