/**
 * The drill's v1 population: people using the original C++ ChatClient (emulated strictly by LegacyClient:
 * one recv(1024) per read, one JSON document per read, abort on anything else, no acks). They chat 1:1 in
 * pairs through the VIP; when a client's connection drops — or it shows nothing while the partner keeps
 * typing — the person starts a new client and logs in again. Runs in the client namespace as its own
 * process (as the original clients are), apart from the v2 load whose busy event loop would merge reads
 * that a dedicated receive thread would not. Orders come over IPC (protocol.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { LegacyClient, type LegacyEnd, type ShownMessage } from '../legacy-client.js';
import type { V1Command, V1FinishResult, V1Reply, V1SettleResult, V1Settings } from './protocol.js';

const PASSWORD = 'pw';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How much later than the settle window a redelivered message may have been shown (clocks, LB, event loop). */
const DUPLICATE_SLACK_MS = 1000;

interface Session {
  readonly index: number;
  readonly loggedInAt: number;
  /** When the client saw its connection end (or was killed by its impatient user). */
  endedAt: number | undefined;
  /** Ended by a clean loginout: nothing it showed can come again. */
  clean: boolean;
  endReason: string;
  /** The last counter shown per sender in this session (order is per session). */
  lastCounter: number;
}

interface Showing {
  readonly session: number;
  readonly at: number;
}

/** One message's life at its recipient: every showing. */
interface Seen {
  readonly sentAt: number;
  readonly showings: Showing[];
}

/** One person with the original client: the account, the current client, and what it has shown. */
class V1User {
  id = 0;
  peer!: V1User;
  client: LegacyClient | undefined;
  readonly sessions: Session[] = [];
  /** Logged in and not being restarted. */
  ready = false;
  private restarting = false;
  counter = 0;
  sent = 0;
  /** performance.now() of this user's sends, by counter. */
  readonly sentAt = new Map<number, number>();
  /** The session each message was sent in (by counter). */
  readonly sentIn = new Map<number, number>();
  lastShownAt = 0;
  lastSentAt = 0;
  /** Messages received, keyed by the sender's counter. */
  readonly seen = new Map<number, Seen>();
  reordered = 0;
  restarts = 0;
  impatientRestarts = 0;
  /** Set when a message the partner sent once the fault was in is shown: in which session, when. */
  backIn: { session: number; at: number } | undefined;
  lastEvent = 'none';
  /** Restarts start once the first login held (enroll() retries by itself until then). */
  private enrolled = false;

  constructor(
    readonly name: string,
    private readonly load: LegacyLoad,
  ) {}

  get session(): Session | undefined {
    return this.sessions[this.sessions.length - 1];
  }

  /** The first client: register (REG_MSG) and log in on the same connection, as the original allows. */
  async enroll(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let client: LegacyClient | undefined;
      try {
        client = await this.open();
        // A retry after a lost reply finds the account there: log in with the id it already has.
        if (this.id === 0)
          this.id = await withTimeout(
            client.register(this.name, PASSWORD),
            this.load.settings.loginTimeoutMs,
          );
        await this.login(client);
        this.enrolled = true;
        return;
      } catch (error) {
        this.client = undefined;
        this.ready = false;
        client?.crash();
        if (attempt >= 5) throw new Error(`${this.name}: could not register: ${String(error)}`);
        await sleep(200 * (attempt + 1));
      }
    }
  }

  private open(): Promise<LegacyClient> {
    const { host, port, loginTimeoutMs } = this.load.settings;
    let self: LegacyClient | undefined;
    return LegacyClient.open(port, host, {
      connectTimeoutMs: loginTimeoutMs,
      onShown: (message) => this.onShown(message),
      onEnd: (end) => this.onEnd(self, end),
      // The original ignores ERROR frames; a refused v1 chat would be lost without a trace, so count them.
      onError: (frame) =>
        this.load.errorReplies.push(`${this.name}: ${String(frame.code)} (re ${String(frame.re)})`),
    }).then((client) => (self = client));
  }

  private async login(client: LegacyClient): Promise<void> {
    // The login ack's offline messages are shown while it is read, so the session exists before it.
    this.client = client;
    const session: Session = {
      index: this.sessions.length,
      loggedInAt: performance.now(),
      endedAt: undefined,
      clean: false,
      endReason: 'open',
      lastCounter: -1,
    };
    this.sessions.push(session);
    const ack = await withTimeout(client.login(this.id, PASSWORD), this.load.settings.loginTimeoutMs);
    if (ack.errno !== 0) throw new Error(`login refused: errno ${ack.errno} ${ack.errmsg ?? ''}`);
    this.ready = true;
    this.lastEvent = `logged in (session ${session.index})`;
  }

  /** One `chat:<peer>:<body>`; the body names sender and counter. */
  send(): void {
    if (!this.ready || !this.client?.alive) return;
    const counter = this.counter++;
    const now = performance.now();
    this.sentAt.set(counter, now);
    this.sentIn.set(counter, this.sessions.length - 1);
    this.client.chat(this.id, this.name, this.peer.id, `v1/${this.id}/${counter}`);
    this.sent++;
    this.lastSentAt = now;
  }

  private onShown(message: ShownMessage): void {
    const [tag, sender, counterText] = message.msg.split('/');
    const session = this.session;
    if (tag !== 'v1' || !session || Number(sender) !== this.peer.id) {
      this.load.strange.push(`${this.name} showed ${JSON.stringify(message.msg.slice(0, 60))}`);
      return;
    }
    const counter = Number(counterText);
    const now = performance.now();
    this.lastShownAt = now;
    const sentAt = this.peer.sentAt.get(counter) ?? Number.NaN;
    const seen = this.seen.get(counter) ?? { sentAt, showings: [] };
    seen.showings.push({ session: session.index, at: now });
    this.seen.set(counter, seen);
    if (counter < session.lastCounter) {
      this.reordered++;
      if (this.load.reorders.length < 5)
        this.load.reorders.push(
          `${this.name} (session ${session.index}, ${this.load.when()}) showed ${this.peer.id}/${counter} (sent ${this.load.when(sentAt)}) after ${this.peer.id}/${session.lastCounter} (sent ${this.load.when(this.peer.sentAt.get(session.lastCounter) ?? Number.NaN)})`,
        );
    } else session.lastCounter = counter;
    if (
      sentAt >= this.load.injectedAt &&
      (this.backIn === undefined || this.backIn.session !== session.index)
    )
      this.backIn = { session: session.index, at: now };
  }

  private onEnd(client: LegacyClient | undefined, end: LegacyEnd): void {
    if (end.kind === 'abort' && end.reason !== 'crashed on purpose')
      this.load.aborts.push(
        `${this.name} (session ${this.sessions.length - 1}, ${this.load.when()}, this process's event loop late by up to ${this.load.loopLagMs()} ms): ${end.reason}`,
      );
    if (client !== this.client) return; // a client this person already gave up on
    this.ready = false;
    const session = this.session;
    if (session && session.endedAt === undefined) {
      session.endedAt = performance.now();
      session.endReason = end.kind === 'abort' ? 'abort' : 'dropped';
    }
    this.lastEvent = `client ended (${end.kind}: ${end.reason})`;
    if (this.enrolled && this.load.restarting) void this.restart(false);
  }

  /** The person notices (a dead client, or silence while the partner types) and starts the client again. */
  async restart(impatient: boolean): Promise<void> {
    if (this.restarting) return;
    this.restarting = true;
    this.ready = false;
    this.restarts++;
    if (impatient) {
      this.impatientRestarts++;
      const session = this.session;
      if (session && session.endedAt === undefined) {
        session.endedAt = performance.now();
        session.endReason = 'impatient';
      }
      // Ctrl-C: the process dies, the kernel closes the socket.
      const old = this.client;
      this.client = undefined;
      old?.crash();
    }
    try {
      for (let attempt = 0; this.load.restarting; attempt++) {
        // A person takes a moment to start the program again (and longer after a failed try).
        await sleep(200 + Math.random() * 300 + Math.min(attempt, 5) * 300);
        let client: LegacyClient | undefined;
        try {
          client = await this.open();
          await this.login(client);
          return;
        } catch (error) {
          this.lastEvent = `restart attempt ${attempt} failed: ${(error as Error).message}`;
          if (client && this.client === client) this.client = undefined;
          // The abandoned session never logged in: it showed nothing and is no session.
          const last = this.session;
          if (last && client && last.endedAt === undefined) {
            last.endedAt = performance.now();
            last.endReason = 'login failed';
          }
          client?.crash();
        }
      }
    } finally {
      this.restarting = false;
    }
  }

  /** Back to the menu (`loginout`, a clean end: everything shown counts), then quit. */
  async leave(): Promise<void> {
    const client = this.client;
    this.ready = false;
    this.client = undefined;
    if (!client?.alive) return;
    client.loginout(this.id);
    const session = this.session;
    if (session) {
      session.clean = true;
      session.endedAt = performance.now();
      session.endReason = 'loginout';
    }
    // Let the server read the loginout before the FIN (the original's menu takes a keypress anyway).
    await sleep(200);
    client.quit();
  }
}

class LegacyLoad {
  /** ERROR frames v1 users received: a v1 chat the server refused is a message lost without a trace. */
  readonly errorReplies: string[] = [];
  settings!: V1Settings;
  readonly users: V1User[] = [];
  readonly aborts: string[] = [];
  /** Lines that were not a partner's drill message (should never happen). */
  readonly strange: string[] = [];
  markedAt = 0;
  /** When the fault was in place: "back" needs a message sent after it (the mark comes before it). */
  injectedAt = Infinity;
  readonly reorders: string[] = [];
  private fault = 'before the first fault';
  /** This process's event-loop delay over the last half second or so: a late read merges frames. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 1 });
  private previousLagMs = 0;
  /** Restarts are on until the very end (finish needs everyone logged in to drain). */
  restarting = true;
  private sending = false;
  private readonly typing = new Map<V1User, NodeJS.Timeout>();
  private patience: NodeJS.Timeout | undefined;
  private restartsAtMark = 0;
  private impatientAtMark = 0;

  async start(settings: V1Settings): Promise<V1Reply> {
    this.settings = settings;
    if (settings.clients % 2 !== 0) throw new Error('v1 clients come in pairs: give an even number');
    for (let i = 0; i < settings.clients; i++)
      this.users.push(new V1User(`${settings.namePrefix}-${i}`, this));
    for (let i = 0; i < this.users.length; i += 5)
      await Promise.all(this.users.slice(i, i + 5).map((u) => u.enroll()));
    for (let i = 0; i < this.users.length; i += 2) {
      const a = this.users[i]!;
      const b = this.users[i + 1] ?? this.users[0]!;
      a.peer = b;
      b.peer = a;
    }
    this.sending = true;
    for (const user of this.users) {
      // Random phases, so the pairs do not type in lockstep.
      const tick = () => {
        if (!this.sending) return;
        user.send();
        // Jittered: after an event-loop stall every overdue timer fires at once, and fixed intervals
        // would keep all users typing in lockstep from then on.
        this.typing.set(user, setTimeout(tick, settings.intervalMs * (0.5 + Math.random())));
      };
      this.typing.set(user, setTimeout(tick, Math.random() * settings.intervalMs));
    }
    this.patience = setInterval(() => this.checkPatience(), 250);
    this.loopDelay.enable();
    return { type: 'ready', users: this.users.length };
  }

  /** Nothing shown for patienceMs while the partner kept typing (and its lines are due): restart. */
  private checkPatience(): void {
    this.previousLagMs = this.loopDelay.max / 1e6;
    this.loopDelay.reset();
    if (!this.sending) return;
    const now = performance.now();
    for (const user of this.users) {
      const since = Math.max(user.lastShownAt, user.session?.loggedInAt ?? 0);
      const typedSince = user.peer.lastSentAt > since + this.settings.intervalMs;
      if (user.ready && typedSince && now - since > this.settings.patienceMs) void user.restart(true);
    }
  }

  /** Where in the drill a moment was (now by default): the fault, and seconds since its mark. */
  when(at = performance.now()): string {
    return `${((at - this.markedAt) / 1000).toFixed(1)} s into "${this.fault}"`;
  }

  injected(): V1Reply {
    this.injectedAt = performance.now();
    for (const user of this.users) user.backIn = undefined;
    return { type: 'injected' };
  }

  loopLagMs(): number {
    return Math.round(Math.max(this.previousLagMs, this.loopDelay.max / 1e6));
  }

  mark(fault: string): V1Reply {
    this.fault = fault;
    this.markedAt = performance.now();
    this.injectedAt = Infinity;
    for (const user of this.users) user.backIn = undefined;
    this.restartsAtMark = this.sum((u) => u.restarts);
    this.impatientAtMark = this.sum((u) => u.impatientRestarts);
    return { type: 'marked' };
  }

  private sum(of: (user: V1User) => number): number {
    return this.users.reduce((total, user) => total + of(user), 0);
  }

  private back(user: V1User): boolean {
    return user.ready && user.backIn !== undefined && user.backIn.session === user.session?.index;
  }

  private measure(settled: boolean): V1SettleResult {
    return {
      settled,
      backMs: Math.max(...this.users.map((u) => (this.back(u) ? u.backIn!.at - this.markedAt : Number.NaN))),
      restarts: this.sum((u) => u.restarts) - this.restartsAtMark,
      impatientRestarts: this.sum((u) => u.impatientRestarts) - this.impatientAtMark,
      stuck: this.users
        .filter((u) => !this.back(u))
        .slice(0, 5)
        .map((u) => `${u.name}: ${u.ready ? 'logged in' : 'not logged in'}, last event ${u.lastEvent}`),
    };
  }

  async settle(minMs: number, timeoutMs: number): Promise<V1Reply> {
    const deadline = this.markedAt + Math.max(minMs, 0) + timeoutMs;
    for (;;) {
      const now = performance.now();
      if (now - this.markedAt >= minMs && this.users.every((u) => this.back(u)))
        return { type: 'settled', ...this.measure(true) };
      if (now > deadline) return { type: 'settled', ...this.measure(false) };
      await sleep(50);
    }
  }

  /** Accepted = stored: the `message` rows these users sent (the server's only promise to a v1 sender). */
  private async stored(db: mysql.Connection): Promise<Map<V1User, Set<number>>> {
    const byId = new Map(this.users.map((u) => [u.id, u]));
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      'SELECT sender_id, to_user_id, body FROM message WHERE sender_id IN (?)',
      [[...byId.keys()]],
    );
    const out = new Map<V1User, Set<number>>(this.users.map((u) => [u, new Set<number>()]));
    for (const row of rows) {
      const recipient = byId.get(Number(row.to_user_id));
      const [, , counter] = String(row.body).split('/');
      if (recipient) out.get(recipient)!.add(Number(counter));
    }
    return out;
  }

  /**
   * Messages sent in sessions still open at the end that are not stored: nothing cut those connections, so
   * the server must have stored every line (a held one within V1_HOLD_MS) — else it dropped one silently.
   */
  private unstored(accepted: Map<V1User, Set<number>>): string[] {
    const out: string[] = [];
    for (const user of this.users) {
      const stored = accepted.get(user.peer) ?? new Set<number>();
      for (const [counter, index] of user.sentIn) {
        if (user.sessions[index]?.endReason === 'open' && !stored.has(counter))
          out.push(`${user.id}/${counter}`);
      }
    }
    return out;
  }

  private missing(accepted: Map<V1User, Set<number>>): number {
    let missing = 0;
    for (const [user, counters] of accepted) for (const c of counters) if (!user.seen.has(c)) missing++;
    return missing;
  }

  async finish(drainMs: number, mysqlUrl: string): Promise<V1Reply> {
    this.sending = false;
    for (const timer of this.typing.values()) clearTimeout(timer);
    clearInterval(this.patience);
    const db = await mysql.createConnection({ uri: mysqlUrl });
    try {
      // Sends in flight are stored (or not) within a moment; then wait until each stored one is shown.
      await sleep(1000);
      const deadline = performance.now() + drainMs;
      let accepted = await this.stored(db);
      while (
        (this.missing(accepted) > 0 || this.unstored(accepted).length > 0) &&
        performance.now() < deadline
      ) {
        await sleep(1000);
        accepted = await this.stored(db);
      }
      const diagnosis = this.missing(accepted) > 0 ? await this.explain(db, accepted) : [];
      const unstored = this.unstored(accepted);
      this.restarting = false;
      await Promise.all(this.users.map((u) => u.leave()));
      return {
        type: 'finished',
        ...this.account(accepted, diagnosis),
        unstored: unstored.length,
        errorReplies: this.errorReplies.slice(0, 20),
        unstoredExamples: unstored.slice(0, 10),
      };
    } finally {
      await db.end();
    }
  }

  /** For up to 5 missing messages: does the server still hold them in the inbox, or did it count them delivered? */
  private async explain(db: mysql.Connection, accepted: Map<V1User, Set<number>>): Promise<string[]> {
    const lines: string[] = [];
    for (const [user, counters] of accepted) {
      for (const counter of counters) {
        if (user.seen.has(counter) || lines.length >= 5) continue;
        const [rows] = await db.query<mysql.RowDataPacket[]>(
          `SELECT m.id, i.seq, c.acked_seq, c.last_seq FROM message m
             LEFT JOIN inbox i ON i.user_id = ? AND i.message_id = m.id
             LEFT JOIN inbox_cursor c ON c.user_id = ?
           WHERE m.sender_id = ? AND m.body = ?`,
          [user.id, user.id, user.peer.id, `v1/${user.peer.id}/${counter}`],
        );
        const row = rows[0];
        const sentAt = user.peer.sentAt.get(counter);
        lines.push(
          `${user.name} never showed ${user.peer.id}/${counter} (sent at ${sentAt === undefined ? '?' : ((sentAt - this.firstSend()) / 1000).toFixed(1)} s): ` +
            (row?.seq == null
              ? `not in the inbox any more (counted delivered), acked_seq ${String(row?.acked_seq)}`
              : `inbox seq ${String(row.seq)}, acked_seq ${String(row.acked_seq)}, last_seq ${String(row.last_seq)}`) +
            `; ${this.describeSessions(user)}`,
        );
      }
    }
    return lines;
  }

  private firstSend(): number {
    return Math.min(...this.users.map((u) => u.sentAt.get(0) ?? Infinity));
  }

  private describeSessions(user: V1User): string {
    return `sessions ${user.sessions.map((s) => `${s.index}@${this.rel(s.loggedInAt)}–${s.endedAt === undefined ? 'open' : `${this.rel(s.endedAt)} (${s.endReason})`}`).join(' ')}`;
  }

  private rel(t: number): string {
    return `${((t - this.firstSend()) / 1000).toFixed(1)}s`;
  }

  private account(
    accepted: Map<V1User, Set<number>>,
    diagnosis: string[],
  ): Omit<V1FinishResult, 'unstored' | 'unstoredExamples' | 'errorReplies'> {
    let acceptedCount = 0;
    let shown = 0;
    let duplicates = 0;
    let unexplained = 0;
    let duplicateBound = 0;
    const unexplainedLines: string[] = [];
    const latencies: number[] = [];
    for (const user of this.users) {
      const counters = accepted.get(user)!;
      acceptedCount += counters.size;
      // A session that ended without loginout may see what it showed in its last settle window again at
      // a later login: the server could not tell it was shown. The window reaches back by the settle time
      // plus the patience of a user whose client hung (its node cut off: nothing it confirmed was stored).
      // [end - settle - patience - slack, end]
      const windowStart = (index: number) => {
        const session = user.sessions[index]!;
        if (session.clean || session.endedAt === undefined) return Infinity;
        return session.endedAt - this.settings.settleMs - this.settings.patienceMs - DUPLICATE_SLACK_MS;
      };
      for (const [counter, seen] of user.seen) {
        if (counters.has(counter)) shown++;
        const [first, ...again] = seen.showings;
        if (Number.isFinite(seen.sentAt)) latencies.push(first!.at - seen.sentAt);
        for (const showing of seen.showings) if (showing.at >= windowStart(showing.session)) duplicateBound++;
        // Each repeat is explained by the showing before it: in an earlier session, inside that one's window.
        let previous = first!;
        for (const showing of again) {
          duplicates++;
          if (showing.session <= previous.session || previous.at < windowStart(previous.session)) {
            unexplained++;
            if (unexplainedLines.length < 5)
              unexplainedLines.push(
                `duplicate ${user.peer.id}/${counter} at ${user.name}: shown in ${seen.showings.map((x) => `session ${x.session} at ${this.rel(x.at)}`).join(', ')}; ${this.describeSessions(user)}`,
              );
          }
          previous = showing;
        }
      }
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
    return {
      users: this.users.length,
      sent: this.sum((u) => u.sent),
      accepted: acceptedCount,
      shown,
      lost: acceptedCount - shown,
      duplicates,
      duplicateBound,
      unexplainedDuplicates: unexplained,
      reordered: this.sum((u) => u.reordered),
      aborts: [...this.aborts, ...this.strange].slice(0, 20),
      reorders: this.reorders,
      restarts: this.sum((u) => u.restarts),
      impatientRestarts: this.sum((u) => u.impatientRestarts),
      latencyMs: { p50: Math.round(pct(0.5) * 10) / 10, p99: Math.round(pct(0.99) * 10) / 10 },
      diagnosis: [...diagnosis, ...unexplainedLines],
    };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const load = new LegacyLoad();
const reply = (message: V1Reply) => process.send!(message);
process.on('message', (command: V1Command) => {
  const handle = async (): Promise<V1Reply> => {
    switch (command.type) {
      case 'start':
        return load.start(command.settings);
      case 'mark':
        return load.mark(command.fault);
      case 'injected':
        return load.injected();
      case 'settle':
        return load.settle(command.minMs, command.timeoutMs);
      case 'finish':
        return load.finish(command.drainMs, command.mysqlUrl);
    }
  };
  handle().then(reply, (error: unknown) => reply({ type: 'error', message: String(error) }));
});
// The drill going away (Ctrl-C, crash) ends this process too.
process.on('disconnect', () => process.exit(0));
