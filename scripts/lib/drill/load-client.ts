/**
 * The drill's client host: many v2 clients chatting 1:1 and in groups through the VIP, plus a prober that
 * opens a fresh connection every 50 ms. Runs inside the client namespace as a child of the drill and takes
 * its orders over IPC (protocol.ts). Times are this process's performance.now().
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import type { ParleyClient } from '../../../src/client/parley-client.js';
import { RedisKeys } from '../../../src/redis/redis-keys.js';
import { Traffic } from '../traffic.js';
import type {
  DrillCommand,
  DrillReply,
  FinishResult,
  LoadSettings,
  PhaseAccounting,
  SettleResult,
} from './protocol.js';

interface Probe {
  readonly startedAt: number;
  endedAt: number;
  ok: boolean | undefined;
}

/** One fresh TCP connection, one PING, one PONG: is the service there for a new client? */
function probeOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let buffer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('{"msgid":18}\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.includes('"msgid":19')) done(true);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

class LoadClient {
  private traffic: Traffic | undefined;
  private readonly probes: Probe[] = [];
  private prober: NodeJS.Timeout | undefined;
  private markedAt = 0;
  /** Every fault's mark, in order: the phases of the accounting. */
  private readonly marks: number[] = [];
  private readonly anomalies: { kind: 'duplicate' | 'reordered'; at: number }[] = [];
  private readonly lastDisconnect = new Map<ParleyClient, number>();
  private readonly restoredAt = new Map<ParleyClient, number>();
  private disconnects = 0;
  private resumes = 0;
  /** Each client's latest lifecycle event, to explain a client that did not come back. */
  private readonly events = new Map<ParleyClient, string>();

  async start(settings: LoadSettings): Promise<DrillReply> {
    const traffic = new Traffic({
      host: settings.host,
      port: settings.port,
      clients: settings.clients,
      devicesPerUser: settings.devicesPerUser,
      deviceShare: settings.deviceShare,
      groupShare: settings.groupShare,
      groupSize: 5,
      intervalMs: settings.intervalMs,
      loginConcurrency: 10,
      clientOptions: {
        heartbeatMs: settings.heartbeatMs,
        silenceTimeoutMs: settings.silenceTimeoutMs,
        connectTimeoutMs: 500,
        backoffMinMs: 50,
        backoffMaxMs: 500,
      },
    });
    this.traffic = traffic;
    traffic.measureLatency = false;
    traffic.onAnomaly = ({ kind, at }) => this.anomalies.push({ kind, at });
    await traffic.connect();
    for (const client of traffic.clients) {
      client.on('disconnected', () => {
        this.disconnects++;
        this.lastDisconnect.set(client, performance.now());
      });
      client.on('resumed', () => this.resumes++);
      client.on('kicked', (by) =>
        this.events.set(
          client,
          `kicked by ${by ? `${by.cid === client['cid'] ? 'itself' : 'another client'}, attempt ${by.attempt} (own attempt ${client['attempt']})` : 'unknown'}`,
        ),
      );
      client.on('session-lost', (error) => this.events.set(client, `session lost: ${error.message}`));
      client.on('reconnecting', ({ attempt }) =>
        this.events.set(client, `reconnecting (attempt ${attempt})`),
      );
      client.on('resumed', () => this.events.set(client, 'resumed'));
    }
    traffic.onAcked = (client, startedAt) => {
      if (this.restoredAt.has(client)) return;
      if (startedAt >= Math.max(this.markedAt, this.lastDisconnect.get(client) ?? 0))
        this.restoredAt.set(client, performance.now());
    };
    traffic.start();
    this.prober = setInterval(() => {
      const probe: Probe = { startedAt: performance.now(), endedAt: 0, ok: undefined };
      this.probes.push(probe);
      void probeOnce(settings.host, settings.port).then((ok) => {
        probe.ok = ok;
        probe.endedAt = performance.now();
      });
    }, 50);
    const { cross, total } = traffic.crossNodePairs();
    return { type: 'ready', crossPairs: cross, pairs: total, devices: traffic.clients.length };
  }

  mark(): DrillReply {
    this.markedAt = performance.now();
    this.marks.push(this.markedAt);
    this.restoredAt.clear();
    this.disconnects = 0;
    this.resumes = 0;
    return { type: 'marked' };
  }

  /** A client is restored once a send it started after the fault (and after its last drop) is acked. */
  private restored(client: ParleyClient): boolean {
    const at = this.restoredAt.get(client);
    if (at === undefined || !client.connected) return false;
    if (at < (this.lastDisconnect.get(client) ?? 0)) {
      this.restoredAt.delete(client);
      return false;
    }
    return true;
  }

  private measure(settled: boolean): SettleResult {
    const since = this.probes.filter((p) => p.startedAt >= this.markedAt && p.ok !== undefined);
    const firstFailure = since.findIndex((p) => p.ok === false);
    const recovery = firstFailure < 0 ? undefined : since.slice(firstFailure).find((p) => p.ok);
    const clients = this.traffic!.clients;
    const restoredTimes = clients.map((c) => this.restoredAt.get(c) ?? Number.NaN);
    return {
      settled,
      newConnMs: firstFailure < 0 ? 0 : recovery ? recovery.endedAt - this.markedAt : Number.NaN,
      clientsMs: Math.max(...restoredTimes) - this.markedAt,
      probeFailures: since.filter((p) => p.ok === false).length,
      disconnects: this.disconnects,
      resumes: this.resumes,
      stuck: clients
        .filter((c) => !this.restored(c))
        .slice(0, 5)
        .map(
          (c) =>
            `${c.user?.name ?? '?'}: ${c.connected ? 'connected' : 'not connected'}, last event ${this.events.get(c) ?? 'none'}, ${this.restoredAt.has(c) ? 'acked' : 'no ack'} since the fault`,
        ),
    };
  }

  async settle(minMs: number, timeoutMs: number): Promise<DrillReply> {
    const deadline = this.markedAt + Math.max(minMs, 0) + timeoutMs;
    for (;;) {
      const now = performance.now();
      const finished = this.probes.filter((p) => p.ok !== undefined);
      const probesOk = finished.length > 0 && finished[finished.length - 1]!.ok === true;
      const clientsOk = this.traffic!.clients.every((c) => this.restored(c));
      if (now - this.markedAt >= minMs && probesOk && clientsOk)
        return { type: 'settled', ...this.measure(true) };
      if (now > deadline) return { type: 'settled', ...this.measure(false) };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async finish(command: Extract<DrillCommand, { type: 'finish' }>): Promise<DrillReply> {
    clearInterval(this.prober);
    const traffic = this.traffic!;
    await traffic.stop();
    const report = await traffic.drain(command.drainMs);
    // When something is missing: does the server hold it in an inbox it did not push (a stalled session),
    // or does it not have it at all?
    const diagnosis: string[] = [];
    if (report.lost > 0) {
      diagnosis.push(...(await traffic.explainMissing(5)));
      for (const client of traffic.clients) {
        const page = await client.sync(client.lastSeq).catch(() => undefined);
        if (page && page.messages.length > 0)
          diagnosis.push(
            `${client.user?.name} on ${client.node}: ${page.messages.length} unpushed after seq ${client.lastSeq} (connected ${client.connected}, last event ${this.events.get(client) ?? 'none'})`,
          );
      }
    }
    // Everyone leaves; then nobody may stay "online" (a ghost) once the leases had time to settle.
    await Promise.all(traffic.clients.map((client) => client.logout().catch(() => undefined)));
    traffic.close();
    const redis = new Redis(command.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    const startedAt = performance.now();
    let ghosts = 0;
    try {
      for (;;) {
        // Users still online in Redis (presence keeps a record per user after they leave: lastSeen).
        ghosts = await redis.zcard(new RedisKeys(command.redisPrefix).presenceExpiry);
        if (ghosts === 0 || performance.now() - startedAt > command.ghostTimeoutMs) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      redis.disconnect();
    }
    const { latenciesMs: _, ...counts } = report;
    const phases: { lost: number; duplicates: number; reordered: number }[] = Array.from(
      { length: this.marks.length + 1 },
      () => ({ lost: 0, duplicates: 0, reordered: 0 }),
    );
    const phaseOf = (at: number) => this.marks.filter((mark) => mark <= at).length;
    for (const { sentAt, missing } of traffic.missingSends()) phases[phaseOf(sentAt)]!.lost += missing;
    for (const { kind, at } of this.anomalies)
      phases[phaseOf(at)]![kind === 'duplicate' ? 'duplicates' : 'reordered']++;
    const result: FinishResult = {
      ...counts,
      ghosts,
      ghostsClearedMs: performance.now() - startedAt,
      diagnosis: diagnosis.slice(0, 10),
      gapsRepaired: traffic.clients.reduce((sum, c) => sum + c.gapsRepaired, 0),
      phases: phases satisfies PhaseAccounting[],
    };
    return { type: 'finished', ...result };
  }
}

const load = new LoadClient();
const reply = (message: DrillReply) => process.send!(message);
process.on('message', (command: DrillCommand) => {
  const handle = async (): Promise<DrillReply> => {
    switch (command.type) {
      case 'start':
        return load.start(command.settings);
      case 'mark':
        return load.mark();
      case 'settle':
        return load.settle(command.minMs, command.timeoutMs);
      case 'finish':
        return load.finish(command);
    }
  };
  handle().then(reply, (error: unknown) => reply({ type: 'error', message: String(error) }));
});
// The drill going away (Ctrl-C, crash) ends this process too.
process.on('disconnect', () => process.exit(0));
