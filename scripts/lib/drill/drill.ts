import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killQuietly } from '../child.js';
import { KEEPALIVED_TROUBLE, KeepalivedProcess } from '../keepalived.js';
import { LOAD_TEST_LIMITS } from '../load-test-env.js';
import { MariaDb } from '../mariadb.js';
import { NginxServer } from '../nginx.js';
import { NodeProcess } from '../node-process.js';
import { RedisServer } from '../redis.js';
import { DrillNetwork, ip, removeNamespaces } from './network.js';
import type {
  DrillCommand,
  DrillReply,
  FinishResult,
  LoadSettings,
  PhaseAccounting,
  SettleResult,
  V1Command,
  V1FinishResult,
  V1Reply,
  V1SettleResult,
} from './protocol.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const LOAD_CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url));
const LEGACY_LOAD = fileURLToPath(new URL('./legacy-load.ts', import.meta.url));

export const NET = {
  vip: '10.77.0.10',
  lb1: '10.77.0.11',
  lb2: '10.77.0.12',
  apps: ['10.77.0.21', '10.77.0.22', '10.77.0.23'],
  data: '10.77.0.30',
  client: '10.77.0.40',
} as const;
const CHAT_PORT = 7000;
const ADMIN_PORT = 7080;
const HEALTH_PORT = 8001;
const LB_PORT = 8000;
const REDIS_PREFIX = 'parley:';
/**
 * The nodes' V1_ACK_SETTLE_MS (the default, 10 s; the drill runs on it). 3 s lost messages here: through a
 * frozen LB the connection looks open to the node until the VIP has moved (~3.5 s) and the client wrote
 * again, so 3 s confirmed frames that sat in the frozen nginx. It must exceed the time a client takes to
 * notice a dead path.
 */
const V1_ACK_SETTLE_MS = 10_000;
const MYSQL_URL = `mysql://parley:drill@${NET.data}:3306/parley`;

export interface DrillOptions {
  /** Namespace prefix (`<prefix>-lb1` …); distinct prefixes let drills run side by side. */
  readonly prefix: string;
  readonly clients: number;
  /** Devices of each v2 user that has several (a share `deviceShare` of the users). @default 1 */
  readonly devicesPerUser?: number;
  /** @default 1/3 */
  readonly deviceShare?: number;
  /** Users of the original C++ client (emulated), chatting in pairs; 0: none. */
  readonly v1Clients: number;
  readonly apps: number;
  /** Node configuration on top of the drill's (e.g. V1_PACE_MS for an experiment). */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** Run only the first N faults (for debugging a drill). */
  readonly maxFaults?: number;
  readonly log: (line: string) => void;
}

export interface FaultRow extends SettleResult {
  readonly fault: string;
  /** ms from the fault until the VIP was up on the other LB (undefined: not expected to move). */
  readonly vipMovedMs: number | undefined;
  readonly problems: string[];
  /** The v1 population's recovery (undefined without v1 clients). */
  readonly v1: V1SettleResult | undefined;
  /** The v2 accounting of this fault's phase, per receiving device (known once the drill finished). */
  readonly accounting?: PhaseAccounting;
}

export interface DrillResult {
  readonly faults: FaultRow[];
  readonly totals: FinishResult;
  /** The v1 population's accounting (undefined without v1 clients). */
  readonly v1: V1FinishResult | undefined;
  /** Proxied connections still open on the LBs after everyone left (ghost sessions). */
  readonly lbConnections: number;
  readonly problems: string[];
  /** Findings that do not fail the drill (v1 order across restarts). */
  readonly notes: string[];
}

type Lb = 'lb1' | 'lb2';
const other = (lb: Lb): Lb => (lb === 'lb1' ? 'lb2' : 'lb1');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The failover drill: a network of namespaces (two LBs with nginx + keepalived and a VIP, app hosts with
 * Parley nodes, a data host with MariaDB + Redis, a client host with the load), faults one after another
 * while the load runs, and a table of what clients saw. `stop()` always tears everything down.
 */
export class Drill {
  private network: DrillNetwork | undefined;
  private readonly dir: string;
  private mariadb: MariaDb | undefined;
  private redis: RedisServer | undefined;
  private readonly nodes: NodeProcess[] = [];
  private readonly nginx = new Map<Lb, NginxServer>();
  private readonly keepalived = new Map<Lb, KeepalivedProcess>();
  private load: ChildProcess | undefined;
  private legacy: ChildProcess | undefined;
  private readonly faults: FaultRow[] = [];
  private leftConnections: string[] = [];

  constructor(private readonly options: DrillOptions) {
    // Root-owned and not world-writable: keepalived refuses scripts anywhere else (script security).
    this.dir = join('/run', `parley-drill-${options.prefix}`);
  }

  private get log(): (line: string) => void {
    return this.options.log;
  }

  async setUp(): Promise<void> {
    await removeNamespaces(this.options.prefix); // leftovers of a crashed run with this prefix
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'scripts'), { recursive: true, mode: 0o755 });
    for (const script of ['check-nginx.sh', 'notify.sh']) {
      copyFileSync(join(ROOT, 'deploy/keepalived', script), join(this.dir, 'scripts', script));
      chmodSync(join(this.dir, 'scripts', script), 0o755);
    }
    const apps = NET.apps.slice(0, this.options.apps);
    this.network = await DrillNetwork.create(this.options.prefix, [
      { name: 'lb1', address: NET.lb1 },
      { name: 'lb2', address: NET.lb2 },
      ...apps.map((address, i) => ({ name: `app${i + 1}`, address })),
      { name: 'data', address: NET.data },
      { name: 'client', address: NET.client },
    ]);
    const network = this.network;
    this.log(
      `network ${this.options.prefix}-*: lb1 lb2 ${apps.map((_, i) => `app${i + 1}`).join(' ')} data client`,
    );

    const [mariadb, redis] = await Promise.all([
      MariaDb.start({ netns: network.ns('data'), host: NET.data }),
      RedisServer.start(6379, { netns: network.ns('data'), host: NET.data }),
    ]);
    this.mariadb = mariadb;
    this.redis = redis;
    await mariadb.sql(
      "CREATE DATABASE parley CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; CREATE USER 'parley'@'%' IDENTIFIED BY 'drill'; GRANT ALL ON parley.* TO 'parley'@'%';",
    );
    this.log('data host: MariaDB and Redis up');

    const env = {
      MYSQL_URL: MYSQL_URL,
      REDIS_URL: `redis://${NET.data}:6379`,
      REDIS_PREFIX,
      MIGRATE: 'auto',
      SESSION_SECRET: randomBytes(24).toString('base64url'),
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '2000',
      // Fast enough for a drill: leases of a dead node expire in 5 s; silent v2 links close after 6 s.
      PRESENCE_TTL_MS: '5000',
      HEARTBEAT_TIMEOUT_MS: '6000',
      // Probe connections stranded on the losing LB (their last PONG undeliverable, so TCP keep-alive
      // cannot reap them) end when the node closes them for never logging in.
      UNAUTH_TIMEOUT_MS: '5000',
      // Both load balancers send the client's address in a PROXY header; all drill clients share one host.
      TRUSTED_PROXIES: `${NET.lb1},${NET.lb2}`,
      ...LOAD_TEST_LIMITS,
      ...this.options.nodeEnv,
    };
    apps.forEach((address, i) => {
      const name = `app${i + 1}`;
      this.nodes.push(
        new NodeProcess(`node-${i + 1}`, CHAT_PORT, ADMIN_PORT, env, join(this.dir, `${name}.log`), [], {
          netns: network.ns(name),
          host: address,
        }),
      );
    });
    await this.nodes[0]!.start(); // migrates the schema; the others start against it at once
    await Promise.all(this.nodes.slice(1).map((node) => node.start()));
    this.log(`app hosts: ${this.nodes.length} Parley nodes healthy`);

    for (const lb of ['lb1', 'lb2'] as const) {
      // The backup binds the VIP before it holds it.
      await network.sysctl(lb, 'net.ipv4.ip_nonlocal_bind', '1');
      this.nginx.set(
        lb,
        await NginxServer.start({
          netns: network.ns(lb),
          listen: `${NET.vip}:${LB_PORT}`,
          chatBackends: apps.map((host) => ({ host, port: CHAT_PORT })),
          adminListen: `${NET[lb]}:8080`,
          adminBackends: apps.map((host) => ({ host, port: ADMIN_PORT })),
          healthPort: HEALTH_PORT,
          // Fast reaping of proxied sessions whose client left through the other LB (checked at the end).
          soKeepalive: '3s:1s:2',
          // Every drill client comes from the one client host.
          limitConnPerIp: Math.min(Number(LOAD_TEST_LIMITS.MAX_CONNECTIONS_PER_IP), 65535),
        }),
      );
      mkdirSync(join(this.dir, lb), { recursive: true });
      this.keepalived.set(
        lb,
        new KeepalivedProcess(network.ns(lb), join(this.dir, lb), {
          routerId: lb,
          interface: 'eth0',
          vip: `${NET.vip}/24`,
          vrid: 51,
          // lb1 wins the first election; see the fault order in run() for why priorities matter.
          priority: lb === 'lb1' ? 101 : 100,
          unicastSrc: NET[lb],
          unicastPeers: [NET[other(lb)]],
          authPass: 'drill',
          healthPort: HEALTH_PORT,
          scriptDir: join(this.dir, 'scripts'),
          notifyLog: join(this.dir, lb, 'notify.log'),
        }),
      );
    }
    // lb1 first, until it is MASTER: both start as BACKUP with nopreempt, and their master-down timers
    // differ by only 4 ms, so starting them together would leave the first master to chance.
    await this.keepalived.get('lb1')!.start();
    await this.waitVip('lb1', 15_000);
    await this.keepalived.get('lb2')!.start();
    await this.waitState('lb2', 'BACKUP', 10_000);
    this.log('load balancers: VIP on lb1, lb2 BACKUP');
  }

  /** A child process on the client host (its namespace), talking over IPC. */
  private forkClientHost(module: string): ChildProcess {
    return fork(module, [], {
      execPath: 'ip',
      execArgv: ['netns', 'exec', this.network!.ns('client'), process.execPath, '--import', 'tsx'],
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }

  /** Starts the load clients in the client namespace (v2, then the v1 population) and the load through the VIP. */
  async startLoad(): Promise<void> {
    this.load = this.forkClientHost(LOAD_CLIENT);
    const settings: LoadSettings = {
      host: NET.vip,
      port: LB_PORT,
      clients: this.options.clients,
      devicesPerUser: this.options.devicesPerUser ?? 1,
      deviceShare: this.options.deviceShare ?? 1 / 3,
      groupShare: 0.2,
      intervalMs: 100,
      heartbeatMs: 1000,
      silenceTimeoutMs: 3000,
    };
    const ready = await this.ask({ type: 'start', settings }, 120_000);
    if (ready.type !== 'ready') throw new Error(`load client: ${JSON.stringify(ready)}`);
    this.log(
      `client host: ${this.options.clients} users on ${ready.devices} devices logged in through ${NET.vip}:${LB_PORT} (${ready.crossPairs}/${ready.pairs} pairs across nodes), sending`,
    );
    if (this.options.v1Clients > 0) {
      this.legacy = this.forkClientHost(LEGACY_LOAD);
      const v1 = await this.askV1(
        {
          type: 'start',
          settings: {
            host: NET.vip,
            port: LB_PORT,
            clients: this.options.v1Clients,
            intervalMs: 200,
            patienceMs: 5000,
            loginTimeoutMs: 5000,
            settleMs: Number(this.options.nodeEnv?.V1_ACK_SETTLE_MS ?? V1_ACK_SETTLE_MS),
            namePrefix: `v1${this.options.prefix}`,
          },
        },
        120_000,
      );
      if (v1.type !== 'ready') throw new Error(`v1 load: ${JSON.stringify(v1)}`);
      this.log(`client host: ${v1.users} original-client (v1) users logged in, chatting in pairs`);
    }
  }

  private async stopLoad(): Promise<void> {
    for (const load of [this.legacy, this.load]) {
      if (!load || load.exitCode !== null || load.signalCode !== null) continue;
      const exited = new Promise((resolve) => load.once('exit', resolve));
      load.kill('SIGTERM');
      await exited;
    }
  }

  private ask(command: DrillCommand, timeoutMs: number): Promise<DrillReply> {
    return askChild<DrillCommand, DrillReply>(this.load!, 'load client', command, timeoutMs);
  }

  private askV1(command: V1Command, timeoutMs: number): Promise<V1Reply> {
    return askChild<V1Command, V1Reply>(this.legacy!, 'v1 load', command, timeoutMs);
  }
  /** Which LB holds the VIP (both, during a split brain; none, in the gap). */
  private async vipHolders(): Promise<Lb[]> {
    const holders: Lb[] = [];
    for (const lb of ['lb1', 'lb2'] as const)
      if ((await this.network!.addresses(lb)).includes(NET.vip)) holders.push(lb);
    return holders;
  }

  private async waitVip(lb: Lb, timeoutMs: number): Promise<number> {
    const started = performance.now();
    for (;;) {
      if ((await this.network!.addresses(lb)).includes(NET.vip)) return performance.now() - started;
      if (performance.now() - started > timeoutMs)
        throw new Error(
          `VIP not on ${lb} after ${timeoutMs} ms (holders: ${(await this.vipHolders()).join(',') || 'none'})`,
        );
      await sleep(20);
    }
  }

  /** Last VRRP state the notify hook logged for an LB. */
  private state(lb: Lb): string | undefined {
    try {
      const lines = readFileSync(join(this.dir, lb, 'notify.log'), 'utf8')
        .trim()
        .split('\n');
      return lines[lines.length - 1]?.split(' ')[3];
    } catch {
      return undefined;
    }
  }

  private async waitState(lb: Lb, state: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.state(lb) !== state) {
      if (performance.now() > deadline)
        throw new Error(`${lb} not ${state} after ${timeoutMs} ms (it is ${this.state(lb) ?? 'unknown'})`);
      await sleep(50);
    }
  }

  /**
   * One fault: mark time zero in the load client, inject, (expect the VIP on `vipTo`), wait until every
   * client sends again, then restore. Problems are collected, not thrown, so the table is always complete.
   */
  private async fault(
    name: string,
    inject: () => Promise<unknown>,
    expect: { vipTo?: Lb; minMs?: number; noDisconnects?: boolean; vipStays?: Lb },
    restore?: () => Promise<unknown>,
  ): Promise<void> {
    if (this.faults.length >= (this.options.maxFaults ?? Infinity)) return;
    this.log(`fault: ${name}`);
    await sleep(Math.random() * 1000); // off the keepalived 1 s timers' phase
    await Promise.all([
      this.ask({ type: 'mark' }, 5000),
      this.legacy && this.askV1({ type: 'mark', fault: name }, 5000),
    ]);
    const startedAt = performance.now();
    await inject();
    if (this.legacy) await this.askV1({ type: 'injected' }, 5000);
    const problems: string[] = [];
    let vipMovedMs: number | undefined;
    if (expect.vipTo) {
      try {
        await this.waitVip(expect.vipTo, 15_000);
        vipMovedMs = performance.now() - startedAt;
      } catch (error) {
        const from = other(expect.vipTo);
        problems.push(
          `${(error as Error).message}; ${from} runs pids ${(await this.network!.pids(from)).join(' ')}, its nginx is ${this.nginx.get(from)!.healthy() ? 'healthy' : 'down'}, keepalived says ${this.state(from)}`,
        );
      }
    }
    const settle = { type: 'settle', minMs: expect.minMs ?? 0, timeoutMs: 30_000 } as const;
    const [settled, settledV1] = await Promise.all([
      this.ask(settle, 60_000),
      this.legacy ? this.askV1(settle, 60_000) : undefined,
    ]);
    if (settled.type !== 'settled' || (settledV1 && settledV1.type !== 'settled'))
      throw new Error('unexpected reply');
    const { type: _, ...measured } = settled;
    const v1 = settledV1?.type === 'settled' ? (({ type: __, ...rest }) => rest)(settledV1) : undefined;
    if (!measured.settled)
      problems.push(`clients not all sending again within 30 s (${measured.stuck.join('; ')})`);
    if (v1 && !v1.settled)
      problems.push(`v1 users not all showing messages again within 30 s (${v1.stuck.join('; ')})`);
    if (expect.noDisconnects && measured.disconnects > 0)
      problems.push(`${measured.disconnects} sessions cut`);
    if (expect.noDisconnects && v1 && v1.restarts > 0) problems.push(`${v1.restarts} v1 clients restarted`);
    if (expect.vipStays) {
      const holders = await this.vipHolders();
      if (holders.length !== 1 || holders[0] !== expect.vipStays)
        problems.push(`VIP moved to ${holders.join(',')}`);
    }
    if (restore) await restore();
    this.faults.push({ fault: name, vipMovedMs, ...measured, problems, v1 });
    this.log(
      `  VIP ${vipMovedMs === undefined ? '-' : `${Math.round(vipMovedMs)} ms`}, new connections ${Math.round(measured.newConnMs)} ms, all clients ${Math.round(measured.clientsMs)} ms, ${measured.disconnects} reconnects${v1 ? `; v1: all showing again ${Math.round(v1.backMs)} ms, ${v1.restarts} restarts (${v1.impatientRestarts} impatient)` : ''}${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`,
    );
  }

  /**
   * The faults, in an order that keeps the VRRP roles predictable: lb1 (priority 101) starts as MASTER.
   * A frozen LB that comes back yields only if its priority is lower, so the freeze hits lb2.
   */
  async run(): Promise<DrillResult> {
    const network = this.network!;
    const nginx = (lb: Lb) => this.nginx.get(lb)!;
    const keepalived = (lb: Lb) => this.keepalived.get(lb)!;
    let frozen: number[] = [];

    await this.fault(
      'nginx crash on the master LB (lb1: SIGKILL master + workers)',
      () => nginx('lb1').crash(),
      {
        vipTo: 'lb2',
      },
      async () => {
        await nginx('lb1').resume();
        await this.waitState('lb1', 'BACKUP', 10_000);
      },
    );
    await this.fault(
      'master LB frozen (lb2: SIGSTOP nginx + keepalived)',
      async () => {
        frozen = await network.pids('lb2');
        for (const pid of frozen) killQuietly(pid, 'SIGSTOP');
      },
      { vipTo: 'lb1', minMs: 3500 },
    );
    await this.fault(
      'frozen LB thaws (lb2: SIGCONT; must yield, not cut sessions)',
      async () => {
        for (const pid of frozen) killQuietly(pid, 'SIGCONT');
        await this.waitState('lb2', 'BACKUP', 10_000);
      },
      { minMs: 2000, vipStays: 'lb1', noDisconnects: true },
    );
    await this.fault('keepalived stop on the master LB (lb1: SIGTERM)', () => keepalived('lb1').stop(), {
      vipTo: 'lb2',
    });
    await this.fault(
      'old master comes back (lb1: keepalived starts; nopreempt keeps the VIP on lb2)',
      async () => {
        await keepalived('lb1').start();
        await this.waitState('lb1', 'BACKUP', 10_000);
      },
      { minMs: 4000, vipStays: 'lb2', noDisconnects: true },
    );
    const [app1] = this.nodes;
    await this.fault(
      'Parley node killed (app1: kill -9)',
      () => app1!.stop('SIGKILL'),
      {},
      () => app1!.start(),
    );
    await this.fault(
      'Parley node unplugged (app2: cable pulled, no RST)',
      () => network.unplug('app2'),
      { minMs: 3500 },
      async () => {
        await network.replug('app2');
      },
    );
    await this.fault(
      'Redis restart (data host)',
      async () => {
        await this.redis!.stop();
        await this.redis!.resume();
      },
      {},
    );

    this.log('finishing: drain, everyone logs out, ghost check');
    // v1 first: its users must have logged out before the ghost check.
    const finishedV1 = this.legacy
      ? await this.askV1({ type: 'finish', drainMs: 30_000, mysqlUrl: MYSQL_URL }, 120_000)
      : undefined;
    if (finishedV1 && finishedV1.type !== 'finished') throw new Error('unexpected reply');
    const v1 = finishedV1?.type === 'finished' ? (({ type: _, ...rest }) => rest)(finishedV1) : undefined;
    const finished = await this.ask(
      {
        type: 'finish',
        drainMs: 30_000,
        redisUrl: `redis://${NET.data}:6379`,
        redisPrefix: REDIS_PREFIX,
        ghostTimeoutMs: 20_000,
      },
      120_000,
    );
    if (finished.type !== 'finished') throw new Error('unexpected reply');
    const { type: _, ...totals } = finished;
    // With the client host's process gone, whatever is still established on an LB is a ghost: a proxied
    // session whose client left through the other LB (so_keepalive must reap it) or never said goodbye.
    await this.stopLoad();
    const lbConnections = await this.waitLbConnectionsGone(15_000);
    const problems: string[] = [];
    const notes: string[] = [];
    for (const row of this.faults) for (const p of row.problems) problems.push(`${row.fault}: ${p}`);
    if (totals.unmarkedEchoes > 0)
      problems.push(`${totals.unmarkedEchoes} echoes of a device's own sends not marked echoOfOwnSend`);
    // Which phase each count fell in (the fault before it, or before the first fault).
    const where = (field: keyof PhaseAccounting) =>
      totals.phases
        .map((phase, i) => ({ n: phase[field], i }))
        .filter(({ n }) => n > 0)
        .map(
          ({ n, i }) => `${n} ${i === 0 ? 'before the first fault' : `after "${this.faults[i - 1]?.fault}"`}`,
        )
        .join(', ');
    if (totals.lost > 0)
      problems.push(
        `${totals.lost} acked deliveries lost [${where('lost')}] (${totals.diagnosis.join('; ') || 'not in any inbox'})`,
      );
    if (totals.duplicates > 0)
      problems.push(`${totals.duplicates} duplicates shown [${where('duplicates')}]`);
    if (totals.reordered > 0)
      problems.push(`${totals.reordered} messages out of order [${where('reordered')}]`);
    if (v1) {
      if (v1.lost > 0)
        problems.push(`v1: ${v1.lost} stored messages never shown (${v1.diagnosis.join('; ') || '?'})`);
      if (v1.unstored > 0)
        problems.push(
          `v1: ${v1.unstored} lines sent on healthy connections never stored (${v1.unstoredExamples.join(' ')})`,
        );
      if (v1.errorReplies.length > 0)
        problems.push(`v1: refusals the original client never shows: ${v1.errorReplies.join('; ')}`);
      if (v1.aborts.length > 0)
        problems.push(`v1: the original client would have aborted: ${v1.aborts.join('; ')}`);
      if (v1.unexplainedDuplicates > 0 || v1.duplicates > v1.duplicateBound)
        problems.push(
          `v1: ${v1.duplicates} duplicates (bound ${v1.duplicateBound}), ${v1.unexplainedDuplicates} outside a restart's settle window`,
        );
      // v1 order across a sender's restarts is reported, not required (docs/OPERATIONS.md): a sender
      // cut off on a node restarts elsewhere, and the old connection's frames may be stored later.
      if (v1.reordered > 0)
        notes.push(`v1: ${v1.reordered} messages out of order: ${v1.reorders.join('; ')}`);
    }
    if (totals.ghosts > 0) problems.push(`${totals.ghosts} ghost users online after everyone left`);
    if (lbConnections > 0)
      problems.push(
        `${lbConnections} proxied connections left on the LBs (${this.leftConnections.join('; ')})`,
      );
    for (const lb of ['lb1', 'lb2'] as const) {
      const trouble = readFileSync(keepalived(lb).logFile, 'utf8').match(KEEPALIVED_TROUBLE);
      if (trouble) problems.push(`keepalived on ${lb} logged "${trouble[0]}"`);
    }
    const faults = this.faults.map((row, i) => ({ ...row, accounting: totals.phases[i + 1] }));
    return { faults, totals, v1, lbConnections, problems, notes };
  }

  /** Established client connections on both LBs' port 8000; waits for 0 (ghost proxied sessions). */
  private async waitLbConnectionsGone(timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let count = 0;
      this.leftConnections = [];
      for (const lb of ['lb1', 'lb2'] as const) {
        const out = await ip(
          'netns',
          'exec',
          this.network!.ns(lb),
          'ss',
          '-Htn',
          'state',
          'established',
          `( sport = :${LB_PORT} )`,
        );
        const lines = out.split('\n').filter(Boolean);
        count += lines.length;
        this.leftConnections.push(...lines.map((line) => `${lb}: ${line.replace(/\s+/g, ' ')}`));
      }
      if (count === 0 || performance.now() > deadline) return count;
      await sleep(200);
    }
  }

  /** Stops every process and removes the namespaces and the state dir (keepDir keeps logs for a look). */
  async stop(keepDir = false): Promise<void> {
    this.load?.kill('SIGKILL');
    this.legacy?.kill('SIGKILL');
    for (const k of this.keepalived.values()) {
      await k.stop('SIGKILL').catch(() => undefined);
      k.close();
    }
    // Everything left in our namespaces (thawed first, so SIGKILL lands) goes, then the namespaces.
    await removeNamespaces(this.options.prefix);
    for (const n of this.nginx.values()) await n.destroy().catch(() => undefined);
    await Promise.all(
      this.nodes.map((node) =>
        node.stop('SIGKILL').then(
          () => node.close(),
          () => undefined,
        ),
      ),
    );
    await this.redis?.destroy().catch(() => undefined);
    await this.mariadb?.destroy().catch(() => undefined);
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The LBs' VRRP story (notify logs, keepalived log tails, nginx error logs), for a failed run. */
  diagnostics(): string {
    const tail = (file: string, lines: number) => {
      try {
        return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '(none)';
      }
    };
    return (['lb1', 'lb2'] as const)
      .map((lb) =>
        [
          `--- ${lb} notify log`,
          tail(join(this.dir, lb, 'notify.log'), 20),
          `--- ${lb} keepalived log (tail)`,
          tail(join(this.dir, lb, 'keepalived.log'), 25),
          `--- ${lb} nginx error log (tail)`,
          tail(join(this.nginx.get(lb)?.prefix ?? '/nonexistent', 'error.log'), 10),
        ].join('\n'),
      )
      .join('\n');
  }

  get stateDir(): string {
    return this.dir;
  }
}

/** One IPC request to a client-host child and its one reply (an `error` reply rejects). */
function askChild<C extends { type: string }, R extends { type: string }>(
  child: ChildProcess,
  name: string,
  command: C,
  timeoutMs: number,
): Promise<Exclude<R, { type: 'error' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${name}: no answer to ${command.type} in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (reply: R) => {
      cleanup();
      if (reply.type === 'error') reject(new Error(`${name}: ${(reply as { message?: string }).message}`));
      else resolve(reply as Exclude<R, { type: 'error' }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${name} exited (${code})`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(command);
  });
}
