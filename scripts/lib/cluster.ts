import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { createDatabase, MariaDb } from './mariadb.js';
import { NginxServer } from './nginx.js';
import { NodeProcess } from './node-process.js';
import { RedisServer } from './redis.js';

export interface ClusterOptions {
  readonly nodes: number;
  /** Port of the nginx stream listener on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** Use this database instead of starting a private MariaDB. */
  readonly mysqlUrl?: string | undefined;
  /** Use this Redis instead of starting a private one. */
  readonly redisUrl?: string | undefined;
  /** Extra environment for every node (e.g. PRESENCE_TTL_MS for faster tests). */
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
  ) {}

  static async start(options: ClusterOptions): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
    const started: { stop(): Promise<unknown> }[] = [];
    try {
      const [mariadb, redis] = await Promise.all([
        options.mysqlUrl ? undefined : MariaDb.start(),
        options.redisUrl ? undefined : RedisServer.start(),
      ]);
      if (mariadb) started.push({ stop: () => mariadb.destroy() });
      if (redis) started.push({ stop: () => redis.destroy() });
      const mysqlUrl = options.mysqlUrl ?? (await createDatabase(mariadb!.url, 'parley'));
      const redisUrl = options.redisUrl ?? redis!.url;
      const env = {
        MYSQL_URL: mysqlUrl,
        REDIS_URL: redisUrl,
        MIGRATE: 'auto',
        SESSION_SECRET: randomBytes(24).toString('base64url'),
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '2000',
        ...options.env,
      };
      const nodes: NodeProcess[] = [];
      for (let i = 1; i <= options.nodes; i++) {
        nodes.push(
          new NodeProcess(
            `node-${i}`,
            await freePort(),
            await freePort(),
            env,
            join(dir, `node-${i}.log`),
            options.nodeArgs,
          ),
        );
      }
      await Promise.all(nodes.map((node) => node.start()));
      started.push({ stop: () => Promise.all(nodes.map((node) => node.stop().then(() => node.close()))) });
      const port = options.port || (await freePort());
      const adminPort = await freePort();
      const nginx = await NginxServer.start({
        listen: `127.0.0.1:${port}`,
        chatBackends: nodes.map((n) => ({ host: '127.0.0.1', port: n.chatPort })),
        adminListen: `127.0.0.1:${adminPort}`,
        adminBackends: nodes.map((n) => ({ host: '127.0.0.1', port: n.adminPort })),
        healthPort: await freePort(),
      });
      return new LocalCluster(dir, nodes, nginx, port, adminPort, mysqlUrl, redisUrl, mariadb, redis);
    } catch (error) {
      for (const part of started.reverse()) await part.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Stops nginx, the nodes (gracefully), Redis and MariaDB, and removes every temp dir. */
  async stop(): Promise<void> {
    await this.nginx.destroy().catch(() => undefined);
    await Promise.all(
      this.nodes.map(async (node) => {
        await node.stop('SIGTERM').catch(() => undefined);
        node.close();
      }),
    );
    await Promise.all([this.redis?.destroy(), this.mariadb?.destroy()]);
    // PARLEY_KEEP_LOGS=1 keeps the node logs for a look after a run.
    if (process.env.PARLEY_KEEP_LOGS) console.error(`cluster logs kept in ${this.dir}`);
    else await rm(this.dir, { recursive: true, force: true });
  }
}
