/**
 * Benchmark (not a test): where an unloaded message's time goes. A two-node cluster (private MariaDB and
 * Redis, nginx) carries 100 v2 clients in pairs with one message in flight each; the nodes' own
 * histograms (request, append, append batch, bus hop, accept-to-socket) are read from /metrics before and
 * after the window, next to the clients' end-to-end latency. Then the floors of this box are measured
 * one at a time: an fdatasync on the MariaDB data directory's file system, one autocommitted INSERT, a
 * Redis round trip, and a loopback TCP round trip through nginx is left to the reader (the node relay).
 *
 *   npm run bench:unloaded-latency -- --clients 100 --interval-ms 2000 --seconds 10
 */
import '../src/require-node.js';
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { LocalCluster } from '../scripts/lib/cluster.js';
import { LOAD_TEST_LIMITS } from '../scripts/lib/load-test-env.js';
import { Traffic } from '../scripts/lib/traffic.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:unloaded-latency',
  usage: 'npm run bench:unloaded-latency -- [options]',
  summary: `Benchmark (not a test): the breakdown of an unloaded message's latency (the nodes' histograms
next to the clients' end-to-end figures) and the box's floors (fdatasync, one committed INSERT, a
Redis round trip). Needs mariadb-server, redis-server, nginx and libnginx-mod-stream.`,
  options: {
    clients: { type: 'integer', default: 100, description: 'clients (in pairs)' },
    'interval-ms': { type: 'integer', default: 2000, description: 'each client sends once per interval' },
    seconds: { type: 'number', value: '<s>', default: 10, description: 'measured window' },
    'node-env': { type: 'string', multiple: true, value: '<KEY=VALUE>', description: 'node setting' },
  },
});

type Sample = Map<string, number>;

async function scrape(ports: readonly number[]): Promise<Sample> {
  const sample: Sample = new Map();
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      const match = /^(parley_\w+?(?:_bucket|_sum|_count))(\{[^}]*\})? (\S+)$/.exec(line);
      if (!match) continue;
      const key = `${match[1]}${match[2] ?? ''}`;
      sample.set(key, (sample.get(key) ?? 0) + Number(match[3]));
    }
  }
  return sample;
}

/** Mean and bucketed p50/p90 (ms) of one histogram between two samples, per label set (bar `le`). */
function histograms(before: Sample, after: Sample): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, total] of after) {
    if (!key.includes('_count')) continue;
    const count = total - (before.get(key) ?? 0);
    if (count <= 0) continue;
    const sumKey = key.replace('_count', '_sum');
    const mean = ((after.get(sumKey) ?? 0) - (before.get(sumKey) ?? 0)) / count;
    const [name, labels = ''] = key.replace('_count', '').split('{');
    const buckets: [number, number][] = [];
    for (const [bucketKey, value] of after) {
      if (!bucketKey.startsWith(`${name}_bucket`)) continue;
      const rest = bucketKey.slice(`${name}_bucket{`.length, -1);
      const le = /le="([^"]+)"/.exec(rest)?.[1];
      const others = rest.replace(/,?le="[^"]+"/, '').replace(/^,/, '');
      if (le === undefined || others !== labels.replace(/}$/, '')) continue;
      buckets.push([Number(le), value - (before.get(bucketKey) ?? 0)]);
    }
    buckets.sort((a, b) => a[0] - b[0]);
    const quantile = (q: number) => buckets.find(([, n]) => n >= q * count)?.[0];
    const ms = (s: number | undefined) => (s === undefined ? '?' : (s * 1000).toFixed(2));
    out[`${name}${labels ? `{${labels}` : ''}`] =
      `n=${count} mean=${ms(mean)} p50<=${ms(quantile(0.5))} p90<=${ms(quantile(0.9))} ms`;
  }
  return out;
}

function percentile(sorted: Float64Array | number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const nodeEnv = Object.fromEntries((values['node-env'] ?? []).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
const cluster = await LocalCluster.start({
  nodes: 2,
  port: 0,
  env: { ...LOAD_TEST_LIMITS, LOG_LEVEL: 'warn', BCRYPT_COST: '4', ...nodeEnv },
});
try {
  const traffic = new Traffic({
    host: '127.0.0.1',
    port: cluster.port,
    clients: values.clients,
    lanes: 1,
    intervalMs: values['interval-ms'],
    loginConcurrency: 50,
  });
  await traffic.connect();
  const adminPorts = cluster.nodes.map((node) => node.adminPort);
  traffic.start();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  traffic.clearLatencies();
  const before = await scrape(adminPorts);
  await new Promise((resolve) => setTimeout(resolve, values.seconds * 1000));
  const after = await scrape(adminPorts);
  const report = await traffic.drain();
  traffic.close();
  const lat = report.latenciesMs;
  console.log(
    JSON.stringify(
      {
        clients: values.clients,
        delivered: report.delivered,
        lost: report.lost,
        endToEndMs: {
          p50: percentile(lat, 0.5).toFixed(2),
          p90: percentile(lat, 0.9).toFixed(2),
          p99: percentile(lat, 0.99).toFixed(2),
        },
        nodeHistograms: histograms(before, after),
      },
      null,
      2,
    ),
  );

  // The floors, one at a time with nothing else running.
  const floors: Record<string, string> = {};
  const timeIt = async (label: string, n: number, fn: () => Promise<void> | void) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    floors[label] = `p50=${percentile(times, 0.5).toFixed(3)} p90=${percentile(times, 0.9).toFixed(3)} ms`;
  };
  const file = join(cluster.dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const page = Buffer.alloc(4096, 1);
  await timeIt('fdatasync of 4 KiB (same file system as MariaDB)', 200, () => {
    writeSync(fd, page, 0, page.length, 0);
    fdatasyncSync(fd);
  });
  closeSync(fd);
  rmSync(file);
  const db = await mysql.createConnection({ uri: cluster.mysqlUrl });
  const [settings] = await db.query(
    `SELECT @@innodb_flush_log_at_trx_commit AS flush_log_at_trx_commit, @@innodb_flush_method AS flush_method,
            @@sync_binlog AS sync_binlog, @@log_bin AS log_bin, @@innodb_doublewrite AS doublewrite`,
  );
  await db.query('CREATE TABLE probe (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB');
  await timeIt('MariaDB: one autocommitted INSERT (commit + redo fsync)', 300, async () => {
    await db.execute('INSERT INTO probe (v) VALUES (?)', ['x']);
  });
  await timeIt('MariaDB: SELECT 1 round trip', 300, async () => {
    await db.query('SELECT 1');
  });
  await db.query('DROP TABLE probe');
  await db.end();
  const redis = new Redis(cluster.redisUrl);
  await timeIt('Redis: PING round trip', 300, async () => {
    await redis.ping();
  });
  const sub = new Redis(cluster.redisUrl);
  await sub.subscribe('probe');
  await timeIt('Redis: PUBLISH to a subscriber receiving it', 300, async () => {
    const got = new Promise((resolve) => sub.once('message', resolve));
    await redis.publish('probe', 'x');
    await got;
  });
  redis.disconnect();
  sub.disconnect();
  console.log(JSON.stringify({ mariadbSettings: (settings as unknown[])[0], floors }, null, 2));
} finally {
  await cluster.stop();
}
// Client sockets that are still closing must not keep the benchmark alive.
process.exit(0);
