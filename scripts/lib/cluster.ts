import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids } from './child.js';
import { freePort } from './free-port.js';
import { createDatabase, MariaDb } from './mariadb.js';
import { NginxServer } from './nginx.js';
import { NodeProcess } from './node-process.js';
import { assertPortsFree, assertSoleListener, type WantedPort } from './ports.js';
import { RedisServer } from './redis.js';
import { ensureTestCerts } from './test-certs.js';

const HOST = '127.0.0.1';

export interface ClusterOptions {
  readonly nodes: number;
  /** Port of the nginx stream listener on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** Port of nginx's admin (HTTP) listener on 127.0.0.1. @default a free one */
  readonly adminPort?: number;
  /** Port of nginx's TLS listener (TCP JSON and wss:// over TLS) on 127.0.0.1. @default a free one */
  readonly tlsPort?: number;
  /**
   * Where the TLS listener's certificate is (made with openssl when missing: a private CA and a
   * certificate for localhost/127.0.0.1 it signed). @default a new one in the cluster's temp dir
   */
  readonly tlsDir?: string;
  /** Use this database instead of starting a private MariaDB. */
  readonly mysqlUrl?: string | undefined;
  /** Use this Redis instead of starting a private one. */
  readonly redisUrl?: string | undefined;
  /**
   * Settings for every node (e.g. PRESENCE_TTL_MS for faster tests); they override the cluster's defaults
   * (LOG_LEVEL, SHUTDOWN_GRACE_MS, MIGRATE, SESSION_SECRET) but not the per-node variables (NODE_ID, the
   * hosts and ports, MYSQL_URL, REDIS_URL).
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node flags for every node process (profiling). */
  readonly nodeArgs?: readonly string[];
}

/**
 * A whole Parley cluster on loopback: MariaDB, Redis, N nodes (real processes) and nginx with the
 * `stream {}` load balancer rendered from deploy/nginx. Everything it starts, it stops.
 */
export class LocalCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: readonly NodeProcess[],
    readonly nginx: NginxServer,
    readonly port: number,
    readonly adminPort: number,
    readonly mysqlUrl: string,
    readonly redisUrl: string,
    readonly mariadb: MariaDb | undefined,
    readonly redis: RedisServer | undefined,
    /** nginx's TLS listener. */
    readonly tlsPort: number,
    /** The CA that signed its certificate: what TLS clients trust (`parley-client --ca`). */
    readonly tlsCa: string,
  ) {}

  /**
   * Checks that every port it will bind is free (PortInUseError naming the port and its holder otherwise,
   * before anything is started), then starts MariaDB and Redis (unless given), the nodes and nginx, and
   * checks that nginx alone holds the load-balancer port.
   */
  static async start(options: ClusterOptions): Promise<LocalCluster> {
    const wanted = await pickPorts(options);
    await assertPortsFree(wanted);
    // The TLS listener's port comes last, after the nodes' ports.
    const tls = wanted.at(-1)!.port;
    const [lb, admin, health, mariadbPort, redisPort, ...nodePorts] = wanted
      .slice(0, -1)
      .map((w) => w.port) as [number, number, number, number, number, ...number[]];
    const dir = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
    const started: { stop(): Promise<unknown> }[] = [];
    try {
      const certs = await ensureTestCerts(options.tlsDir ?? join(dir, 'tls'));
      const [mariadb, redis] = await Promise.all([
        options.mysqlUrl ? undefined : MariaDb.start({}, mariadbPort),
        options.redisUrl ? undefined : RedisServer.start(redisPort),
      ]);
      if (mariadb) started.push({ stop: () => mariadb.destroy() });
      if (redis) started.push({ stop: () => redis.destroy() });
      const mysqlUrl = options.mysqlUrl ?? (await createDatabase(mariadb!.url, 'parley'));
      const redisUrl = options.redisUrl ?? redis!.url;
      const env = {
        MIGRATE: 'auto',
        SESSION_SECRET: randomBytes(24).toString('base64url'),
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '2000',
        // nginx runs on loopback and sends each client's address in a PROXY header.
        TRUSTED_PROXIES: '127.0.0.1',
        ...options.env,
        MYSQL_URL: mysqlUrl,
        REDIS_URL: redisUrl,
      };
      const nodes: NodeProcess[] = [];
      for (let i = 1; i <= options.nodes; i++) {
        nodes.push(
          new NodeProcess(
            `node-${i}`,
            nodePorts[2 * i - 2]!,
            nodePorts[2 * i - 1]!,
            env,
            join(dir, `node-${i}.log`),
            options.nodeArgs,
          ),
        );
      }
      started.push({ stop: () => Promise.all(nodes.map((node) => node.stop().then(() => node.close()))) });
      await Promise.all(nodes.map((node) => node.start()));
      const nginx = await NginxServer.start({
        listen: `${HOST}:${lb}`,
        chatBackends: nodes.map((n) => ({ host: HOST, port: n.chatPort })),
        adminListen: `${HOST}:${admin}`,
        adminBackends: nodes.map((n) => ({ host: HOST, port: n.adminPort })),
        healthPort: health,
        // Tests and benchmarks raise MAX_CONNECTIONS_PER_IP (all their clients are on loopback); nginx's
        // first-line limit follows it.
        limitConnPerIp: Math.min(
          Number((env as Record<string, string>).MAX_CONNECTIONS_PER_IP ?? 1000),
          65535,
        ),
        tls: { listen: `${HOST}:${tls}`, cert: certs.cert, key: certs.key },
      });
      started.push({ stop: () => nginx.destroy() });
      // `reuseport` lets a second nginx bind the port next to another one without an error; the check above
      // ran before the start, so make sure nobody slipped in between.
      const nginxPids = nginx.pid ? [nginx.pid, ...childPids(nginx.pid)] : [];
      assertSoleListener(HOST, lb, nginxPids, 'load balancer');
      assertSoleListener(HOST, tls, nginxPids, 'load balancer (TLS)');
      return new LocalCluster(
        dir,
        nodes,
        nginx,
        lb,
        admin,
        mysqlUrl,
        redisUrl,
        mariadb,
        redis,
        tls,
        certs.ca,
      );
    } catch (error) {
      for (const part of started.reverse()) await part.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Stops nginx, the nodes (gracefully), Redis and MariaDB, and removes every temp dir — except, with
   * `keepLogs` (or PARLEY_KEEP_LOGS=1), `dir` with the node logs and nginx's error log.
   */
  async stop(options: { keepLogs?: boolean } = {}): Promise<void> {
    const keepLogs = options.keepLogs ?? Boolean(process.env.PARLEY_KEEP_LOGS);
    if (keepLogs)
      await copyFile(join(this.nginx.prefix, 'error.log'), join(this.dir, 'nginx-error.log')).catch(
        () => undefined,
      );
    await this.nginx.destroy().catch(() => undefined);
    await Promise.all(
      this.nodes.map(async (node) => {
        await node.stop('SIGTERM').catch(() => undefined);
        node.close();
      }),
    );
    await Promise.all([this.redis?.destroy(), this.mariadb?.destroy()]);
    if (!keepLogs) await rm(this.dir, { recursive: true, force: true });
    else if (!options.keepLogs) console.error(`cluster logs kept in ${this.dir}`);
  }
}

/**
 * The ports a cluster binds, in a fixed order: load balancer, admin, nginx health, MariaDB, Redis, then
 * chat and admin of each node. Picked ones are free now and distinct from each other; the given ones are
 * checked by the caller.
 */
async function pickPorts(options: ClusterOptions): Promise<WantedPort[]> {
  const taken = new Set<number>(
    [options.port, options.adminPort ?? 0, options.tlsPort ?? 0].filter((p) => p > 0),
  );
  const pick = async (given?: number): Promise<number> => {
    if (given) return given;
    for (;;) {
      const port = await freePort();
      if (taken.has(port)) continue;
      taken.add(port);
      return port;
    }
  };
  const picked = (what: string, port: number): WantedPort => ({
    host: HOST,
    port,
    what,
    hint: 'it was free a moment ago: start again',
  });
  const wanted = [
    {
      host: HOST,
      port: await pick(options.port),
      what: 'load balancer',
      hint: 'stop it or choose another port with --port',
    },
    {
      host: HOST,
      port: await pick(options.adminPort),
      what: 'admin via nginx',
      hint: options.adminPort ? 'stop it or choose another port with --admin-port' : undefined,
    },
    picked('nginx health', await pick()),
    picked('MariaDB', options.mysqlUrl ? 0 : await pick()),
    picked('Redis', options.redisUrl ? 0 : await pick()),
  ];
  for (let i = 1; i <= options.nodes; i++)
    wanted.push(picked(`node-${i} chat`, await pick()), picked(`node-${i} admin`, await pick()));
  wanted.push({
    host: HOST,
    port: await pick(options.tlsPort),
    what: 'load balancer (TLS)',
    hint: options.tlsPort ? 'stop it or choose another port with --tls-port' : undefined,
  });
  return wanted;
}
