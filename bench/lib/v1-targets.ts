import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { childPids, stopChild } from '../../scripts/lib/child.js';
import * as clusterModule from '../../scripts/lib/cluster.js';
import type { LocalCluster } from '../../scripts/lib/cluster.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { NginxServer } from '../../scripts/lib/nginx.js';
import { SERVER_NODE_FLAGS } from '../../scripts/lib/server-command.js';
import {
  inspectorUrl,
  inspectorUrlFromLog,
  memoryAfterGc,
  rssBytes,
  type MemoryAfterGc,
} from './inspector-memory.js';
import { presenceNode } from './v1-figures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RELAY = fileURLToPath(new URL('./v1-relay.ts', import.meta.url));
const INSPECT = '--inspect=127.0.0.1:0';

/** What runs behind nginx for a v1 workload: the Parley cluster or the bare relay. */
export interface V1Target {
  readonly kind: 'parley' | 'relay';
  /** nginx's chat listener on 127.0.0.1. */
  readonly port: number;
  /**
   * Pids by group for CPU accounting (the load generator is added by the caller), read when asked: nginx
   * may fork its workers after its port already answers.
   */
  processGroups(): Readonly<Record<string, readonly number[]>>;
  /** The node each user landed on (undefined when unknown), read from where the system keeps it. */
  placement(users: readonly { id: number; node: string | undefined }[]): Promise<(string | undefined)[]>;
  /** Each server process's memory after forced GCs (the target must have been started with `inspect`). */
  memory(): Promise<{ node: string; memory: MemoryAfterGc }[]>;
  /** MariaDB's global status counters (Handler_commit, Innodb_data_fsyncs, Questions…); none for the relay. */
  dbCounters(): Promise<Map<string, number>>;
  /** Resident memory of nginx, master and workers. */
  nginxRss(): Promise<number>;
  /** Users with password `password` stored directly (hash given), for login storms; their ids. */
  seedUsers(count: number, passwordHash: string): Promise<number[]>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Node settings (Parley) — the relay has none. */
  readonly env: Readonly<Record<string, string>>;
  /** Start server processes with the inspector on (W6 forces GCs through it). */
  readonly inspect: boolean;
  /** Relay: pad frames to users to 1024 bytes as Parley does for original clients. @default false */
  readonly relayPad?: boolean;
  /** A checkout whose Parley to run (its own scripts/lib/cluster.ts, nodes and nginx template). */
  readonly root?: string | undefined;
  /** Extra flags for each Parley node process, e.g. `--cpu-prof` (NODE_OPTIONS refuses it). */
  readonly nodeArgs?: readonly string[];
}

/** nginx's master and its workers. */
function nginxPids(nginx: NginxServer): number[] {
  const pid = nginx.pid;
  return pid === undefined ? [] : [pid, ...childPids(pid)];
}

async function nginxRss(nginx: NginxServer): Promise<number> {
  const all = await Promise.all(nginxPids(nginx).map(rssBytes));
  return all.reduce((a, b) => a + b, 0);
}

/** A Parley cluster (MariaDB, Redis, two nodes, nginx) as `npm run cluster` runs it, from `root`. */
export async function startParley(options: TargetOptions): Promise<V1Target> {
  // Another checkout's own harness starts its nodes (from its root) and renders its nginx template.
  const module = options.root
    ? ((await import(
        pathToFileURL(resolve(options.root, 'scripts/lib/cluster.ts')).href
      )) as typeof clusterModule)
    : clusterModule;
  const cluster: LocalCluster = await module.LocalCluster.start({
    nodes: 2,
    port: 0,
    env: options.env,
    nodeArgs: [...(options.inspect ? [INSPECT] : []), ...(options.nodeArgs ?? [])],
  });
  const prefix = options.env.REDIS_PREFIX ?? 'parley:';
  const pids = (...list: (number | undefined)[]) => list.filter((pid): pid is number => pid !== undefined);
  return {
    kind: 'parley',
    port: cluster.port,
    processGroups: () => ({
      nodes: pids(...cluster.nodes.map((node) => node.pid)),
      nginx: nginxPids(cluster.nginx),
      mariadb: pids(cluster.mariadb?.pid),
      redis: pids(cluster.redis?.pid),
    }),
    async placement(users) {
      const redis = new Redis(cluster.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        const nodes: (string | undefined)[] = [];
        for (let i = 0; i < users.length; i += 1000) {
          const chunk = users.slice(i, i + 1000);
          // Builds since devices (issue 20) keep a hash per user, one `d:<device>` lease field each
          // (`<deadline> <node>/…`); older builds one string lease per user (`<node>/…`).
          const pipeline = redis.pipeline();
          for (const u of chunk) pipeline.hvals(`${prefix}presence:user:${u.id}`);
          const hashes = (await pipeline.exec()) ?? [];
          const leases = await redis.mget(...chunk.map((u) => `${prefix}presence:${u.id}`));
          chunk.forEach((_, j) => {
            const fields = (hashes[j]?.[1] ?? []) as string[];
            const lease = fields.map((v) => v.split(' ')[1]).find((v) => v?.includes('/'));
            nodes.push(presenceNode(lease ?? leases[j]));
          });
        }
        return nodes;
      } finally {
        redis.disconnect();
      }
    },
    memory: () =>
      Promise.all(
        cluster.nodes.map(async (node) => ({
          node: node.nodeId,
          memory: await memoryAfterGc(await inspectorUrlFromLog(node.logFile)),
        })),
      ),
    nginxRss: () => nginxRss(cluster.nginx),
    async dbCounters() {
      const db = await mysql.createConnection({ uri: cluster.mysqlUrl });
      try {
        const [rows] = await db.query<mysql.RowDataPacket[]>('SHOW GLOBAL STATUS');
        return new Map(rows.map((row) => [String(row.Variable_name), Number(row.Value)]));
      } finally {
        await db.end();
      }
    },
    async seedUsers(count, passwordHash) {
      const db = await mysql.createConnection({ uri: cluster.mysqlUrl });
      try {
        const tag = `w5${Math.random().toString(36).slice(2, 7)}`;
        for (let i = 0; i < count; i += 500) {
          const rows = Array.from({ length: Math.min(500, count - i) }, (_, j) => {
            const name = `${tag}-${i + j}`;
            return [name, name, passwordHash];
          });
          await db.query('INSERT INTO user (name, name_key, password) VALUES ?', [rows]);
        }
        const [rows] = await db.query<mysql.RowDataPacket[]>(
          'SELECT id FROM user WHERE name_key LIKE ? ORDER BY id',
          [`${tag}-%`],
        );
        return rows.map((row) => Number(row.id));
      } finally {
        await db.end();
      }
    },
    stop: () => cluster.stop(),
  };
}

/** One relay process; resolves once it listens, with its inspector URL when started with one. */
async function spawnRelay(
  args: readonly string[],
  inspect: boolean,
): Promise<{ child: ChildProcess; url?: string }> {
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, ...(inspect ? [INSPECT] : []), '--import', 'tsx', RELAY, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await new Promise<void>((ready, fail) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && ready());
    child.once('exit', (code) => fail(new Error(`relay exited ${code}: ${err}`)));
  });
  const url = inspectorUrl(err);
  return url ? { child, url } : { child };
}

/** Two bare relays (bench/lib/v1-relay.ts) behind nginx rendered from the cluster's own template. */
export async function startRelay(options: TargetOptions): Promise<V1Target> {
  const [lb, admin, health, chat1, chat2, link] = await Promise.all(Array.from({ length: 6 }, freePort));
  const mode = options.relayPad ? 'pad' : 'raw';
  const relays = [
    await spawnRelay(['1', String(chat1), String(link), 'listen', mode], options.inspect),
    await spawnRelay(['2', String(chat2), String(link), 'connect', mode], options.inspect),
  ];
  const backends = [chat1!, chat2!].map((port) => ({ host: '127.0.0.1', port }));
  const nginx = await NginxServer.start({
    listen: `127.0.0.1:${lb}`,
    chatBackends: backends,
    adminListen: `127.0.0.1:${admin}`,
    adminBackends: backends,
    healthPort: health!,
    limitConnPerIp: 65535,
  });
  return {
    kind: 'relay',
    port: lb!,
    processGroups: () => ({
      nodes: relays.map((r) => r.child.pid!),
      nginx: nginxPids(nginx),
      mariadb: [],
      redis: [],
    }),
    // The relay names itself in the login reply.
    placement: (users) => Promise.resolve(users.map((u) => u.node)),
    memory: () =>
      Promise.all(
        relays.map(async (relay, i) => {
          if (!relay.url) throw new Error('relay started without the inspector');
          return { node: `relay-${i + 1}`, memory: await memoryAfterGc(relay.url) };
        }),
      ),
    nginxRss: () => nginxRss(nginx),
    dbCounters: () => Promise.resolve(new Map()),
    // No storage: any id logs in.
    seedUsers: (count) => Promise.resolve(Array.from({ length: count }, (_, i) => i + 1)),
    async stop() {
      await nginx.destroy();
      await Promise.all(relays.map((relay) => stopChild(relay.child)));
    },
  };
}
