/**
 * Benchmark (not a test): a local cluster (MariaDB, Redis, N nodes, nginx) driven through the load
 * balancer by many v2 clients in pairs (about half the pairs land on different nodes) plus a share of
 * group messages. Prints delivered msgs/s, delivery latency percentiles, lost / duplicated / reordered,
 * and, with --storm, the time for every client to resume and catch up after all connections drop at once.
 *
 *   npm run bench:cluster -- --nodes 2 --clients 1000 --seconds 10 --lanes 2 --group-share 0.05 --storm
 *   npm run bench:cluster -- --clients 10000 --seconds 5 --lanes 1 --storm --storms 3
 *   npm run bench:cluster -- --clients 1000 --seconds 10 --lanes 1 --interval-ms 200   (paced, ~5k msg/s)
 *   npm run bench:cluster -- --tls   (the same through nginx's TLS listener)
 *   npm run bench:cluster -- --clients 400 --interval-ms 200 --devices 2 --device-share 0.5 --presence-churn 20 --typing 1
 *     (half the users on two devices; 20 logins/s of users who are friends of chatting users; each device
 *     types to its peer once a second: the extra CPU per process group shows the cost of presence and typing)
 *
 * `--protocol v1` drives original (v1) clients instead (LegacyTraffic: one connection per user, pairs, no
 * acks; `--lanes` is the messages each user keeps unshown in the closed loop, `--interval-ms` an open loop
 * of one send per user per interval) and adds the reads the original client would have died on.
 * `--node-env KEY=VALUE` (repeatable) sets node configuration, e.g. `--node-env V1_PACE_MS=0`.
 */
import '../src/require-node.js';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { childPids } from '../scripts/lib/child.js';
import { LocalCluster } from '../scripts/lib/cluster.js';
import { LegacyTraffic } from '../scripts/lib/legacy-traffic.js';
import { BENCH_NODE_ENV } from '../scripts/lib/load-test-env.js';
import { Traffic } from '../scripts/lib/traffic.js';
import { costPer, ProcessCost } from './lib/process-cost.js';
import { SideTraffic } from './lib/presence-typing.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:cluster',
  usage: 'npm run bench:cluster -- [options]',
  summary: `Benchmark (not a test): a local cluster (private MariaDB and Redis, N nodes, nginx) driven through
the load balancer by v2 clients in pairs plus a share of group messages. Prints delivered msgs/s,
delivery latency percentiles, lost / duplicated / reordered, and with --storm the time for every client
to resume after all connections drop at once. Needs mariadb-server, redis-server, nginx and
libnginx-mod-stream.`,
  options: {
    nodes: { type: 'integer', default: 2, description: 'Parley nodes' },
    clients: { type: 'integer', default: 1000, description: 'clients (in pairs)' },
    seconds: { type: 'number', value: '<s>', default: 10, description: 'measured window' },
    warmup: {
      type: 'number',
      value: '<s>',
      default: 3,
      description: 'traffic before the measured window (JIT, pools and batches at working size)',
    },
    lanes: { type: 'integer', default: 2, description: 'sends in flight per client' },
    'group-share': { type: 'number', value: '<0..1>', default: 0, description: 'share of group messages' },
    devices: {
      type: 'integer',
      default: 1,
      description: 'devices of each user that has several (each another client; every device sends)',
    },
    'device-share': {
      type: 'number',
      value: '<0..1>',
      default: 1,
      description: 'share of the users with --devices devices',
    },
    friends: {
      type: 'integer',
      description:
        'friends per user besides its pair peer (default 4 with --presence-churn or --typing, else none)',
    },
    'presence-churn': {
      type: 'number',
      value: '<logins/s>',
      default: 0,
      description:
        'logins per second of extra users, each a friend of --churn-friends chatting users, who log out 1 s later',
    },
    'churn-friends': {
      type: 'integer',
      default: 10,
      description: 'chatting users each churn user befriends',
    },
    typing: {
      type: 'number',
      value: '<per s>',
      default: 0,
      description: 'typing notifications per second per device (start/stop alternately, to its pair peer)',
    },
    transport: { type: 'string', value: '<tcp|ws>', default: 'tcp', description: 'client transport' },
    protocol: {
      type: 'string',
      value: '<v2|v1>',
      default: 'v2',
      description:
        'v1: original clients (one connection each, no acks; --lanes = lines unshown per user, --interval-ms = one line per interval)',
    },
    'node-env': {
      type: 'string',
      multiple: true,
      value: '<KEY=VALUE>',
      description: 'a Parley setting for every node, e.g. --node-env V1_PACE_MS=0',
    },
    tls: {
      type: 'boolean',
      description:
        "clients connect to nginx's TLS listener (TLS to the load balancer, plaintext to the nodes)",
    },
    storm: { type: 'boolean', description: 'then drop every connection at once and time the resume' },
    storms: { type: 'integer', default: 1, description: 'with --storm: storms in a row' },
    'interval-ms': {
      type: 'number',
      value: '<ms>',
      default: 0,
      description: 'pause after each acked send (0: closed loop at saturation)',
    },
    'node-args': {
      type: 'string',
      value: '"<flags>"',
      default: '',
      description: 'extra node flags for the server nodes, e.g. "--cpu-prof"',
    },
  },
  env: [['MYSQL_POOL_SIZE', 'pool size of each node (default 10)']],
});

/** MariaDB's global status counters (statement counts and the like). */
async function serverStatus(db: mysql.Connection): Promise<Map<string, number>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SHOW GLOBAL STATUS');
  return new Map(rows.map((row) => [String(row.Variable_name), Number(row.Value)]));
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (n: number) => Math.round(n * 100) / 100;

const v1 = values.protocol === 'v1';
const churnPerS = values['presence-churn'];
const typingPerS = values.typing;
if (!(churnPerS >= 0 && churnPerS <= 1000)) throw new Error('--presence-churn is 0–1000 logins/s');
if (!(typingPerS >= 0 && typingPerS <= 100)) throw new Error('--typing is 0–100 per second');
if (v1 && (values.devices > 1 || churnPerS > 0 || typingPerS > 0))
  throw new Error('--devices, --presence-churn and --typing need --protocol v2');
const friends = values.friends ?? (churnPerS > 0 || typingPerS > 0 ? 4 : undefined);
if (!v1 && values.protocol !== 'v2') throw new Error('--protocol is v1 or v2');
if (v1 && (values.storm || values.transport !== 'tcp' || values.tls))
  throw new Error('--protocol v1 is plain TCP only and has no resume (--storm)');
const nodeEnv = Object.fromEntries(
  values['node-env'].map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--node-env ${pair}: expected KEY=VALUE`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);

const cluster = await LocalCluster.start({
  nodes: values.nodes,
  port: 0,
  nodeArgs: values['node-args'].split(' ').filter(Boolean),
  env: {
    ...BENCH_NODE_ENV,
    MYSQL_POOL_SIZE: process.env.MYSQL_POOL_SIZE ?? '10',
    // Typing beyond the per-connection limit would be dropped, not measured.
    ...(typingPerS > 3 ? { TYPING_PER_S: String(Math.ceil(typingPerS) + 1) } : {}),
    ...nodeEnv,
  },
});
try {
  const legacy = v1
    ? new LegacyTraffic({
        host: '127.0.0.1',
        port: cluster.port,
        clients: values.clients,
        window: values.lanes,
        loginConcurrency: 100,
        intervalMs: values['interval-ms'],
      })
    : undefined;
  const modern = v1
    ? undefined
    : new Traffic({
        host: '127.0.0.1',
        port: values.tls ? cluster.tlsPort : cluster.port,
        ...(values.tls ? { clientOptions: { tls: { ca: readFileSync(cluster.tlsCa) } } } : {}),
        transport: values.transport === 'ws' ? 'ws' : 'tcp',
        clients: values.clients,
        lanes: values.lanes,
        groupShare: values['group-share'],
        devicesPerUser: values.devices,
        deviceShare: values['device-share'],
        ...(friends === undefined ? {} : { friends }),
        loginConcurrency: 100,
        intervalMs: values['interval-ms'],
      });
  const traffic = (legacy ?? modern)!;
  const loginStart = performance.now();
  await traffic.connect();
  const loginSeconds = (performance.now() - loginStart) / 1000;
  const clientCount = legacy ? legacy.count : modern!.users.length;
  const side =
    modern && (churnPerS > 0 || typingPerS > 0)
      ? new SideTraffic(modern, {
          host: '127.0.0.1',
          port: values.tls ? cluster.tlsPort : cluster.port,
          churnPerS,
          // Enough users that each is offline again before its next turn.
          churnUsers: Math.max(20, Math.ceil(churnPerS * 3)),
          churnFriends: values['churn-friends'],
          typingPerS,
          namePrefix: `b${process.pid}`,
          clientOptions: {
            transport: values.transport === 'ws' ? 'ws' : 'tcp',
            ...(values.tls ? { tls: { ca: readFileSync(cluster.tlsCa) } } : {}),
          },
        })
      : undefined;
  await side?.prepare();

  const db = await mysql.createConnection({ uri: cluster.mysqlUrl });
  traffic.start();
  side?.start();
  await new Promise((resolve) => setTimeout(resolve, values.warmup * 1000));
  traffic.clearLatencies();
  const deliveredBefore = traffic.report().delivered;
  const statusBefore = await serverStatus(db);
  const nginxPid = cluster.nginx.pid;
  const pids = (...list: (number | undefined)[]) => list.filter((pid): pid is number => pid !== undefined);
  const processGroups = {
    nodes: pids(...cluster.nodes.map((node) => node.pid)),
    nginx: nginxPid === undefined ? [] : [nginxPid, ...childPids(nginxPid)],
    mariadb: pids(cluster.mariadb?.pid),
    redis: pids(cluster.redis?.pid),
    loadGenerator: [process.pid],
  };
  const cost = ProcessCost.start(processGroups);
  const costStart = performance.now();
  const sideBefore = side?.report();
  // The load generator's own event-loop delay: a late read merges frames the server sent apart (v1).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, values.seconds * 1000));
  const deliveredInWindow = traffic.report().delivered - deliveredBefore;
  const elapsed = (performance.now() - start) / 1000;
  const sideAfter = side?.report();
  loopDelay.disable();
  await side?.stop();
  await traffic.stop();
  const report = await traffic.drain(30_000);
  // Costs run on until every send in flight is delivered, so they divide by the deliveries of that span.
  const deliveredSinceWarmup = report.delivered - deliveredBefore;
  const costs = await cost.stop();
  const costSeconds = (performance.now() - costStart) / 1000;
  const statusAfter = await serverStatus(db);
  await db.end();
  const perMessage = (name: string) =>
    round(((statusAfter.get(name) ?? 0) - (statusBefore.get(name) ?? 0)) / Math.max(1, deliveredSinceWarmup));
  const result: Record<string, unknown> = {
    protocol: v1 ? 'v1' : 'v2',
    nodeEnv,
    nodes: cluster.nodes.length,
    tls: Boolean(values.tls),
    clients: clientCount,
    ...(modern
      ? {
          devices: modern.clients.length,
          devicesPerUser: values.devices,
          deviceShare: values['device-share'],
          friendsPerUser: friends ?? 0,
        }
      : {}),
    lanesPerClient: values.lanes,
    intervalMs: values['interval-ms'],
    groupShare: values['group-share'],
    ...(modern
      ? (({ cross, total }) => ({ crossNodePairs: `${cross}/${total}` }))(modern.crossNodePairs())
      : {}),
    registerAndLoginPerS: Math.round(clientCount / loginSeconds),
    ...(modern ? { connectRetries: modern.connectRetries } : {}),
    ...('acked' in report ? { acked: report.acked } : { sent: report.sent }),
    delivered: report.delivered,
    deliveredPerS: Math.round(deliveredInWindow / elapsed),
    latencyMs: {
      p50: round(percentile(report.latenciesMs, 50)),
      p99: round(percentile(report.latenciesMs, 99)),
      p999: round(percentile(report.latenciesMs, 99.9)),
    },
    lost: report.lost,
    duplicates: report.duplicates,
    reordered: report.reordered,
    ...('echoes' in report ? { ownEchoes: report.echoes, unmarkedEchoes: report.unmarkedEchoes } : {}),
    ...(sideBefore && sideAfter
      ? {
          // Rates over the measured window: presence changes made and pushed, typing relayed.
          presence: {
            loginsPerS: round((sideAfter.logins - sideBefore.logins) / elapsed),
            logoutsPerS: round((sideAfter.logouts - sideBefore.logouts) / elapsed),
            eventsReceivedPerS: round((sideAfter.presenceReceived - sideBefore.presenceReceived) / elapsed),
            churnFailures: sideAfter.churnFailures,
          },
          typing: {
            sentPerS: round((sideAfter.typingSent - sideBefore.typingSent) / elapsed),
            receivedPerS: round((sideAfter.typingReceived - sideBefore.typingReceived) / elapsed),
            refused: sideAfter.typingRefused,
          },
        }
      : {}),
    // v1: reads the original client would have aborted on (more than one frame, >= 1024 bytes, split).
    ...('violations' in report
      ? { refused: report.refused, reads: report.reads, violations: report.violations }
      : {}),
    loadEventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    // Round trips to MySQL (statements sent by the nodes, incl. this probe's two) and the statements the
    // server ran (procedure bodies included), per delivered message, over the measured window.
    mysqlPerDelivered: {
      roundTrips: perMessage('Questions'),
      statements: perMessage('Queries'),
      commits: perMessage('Handler_commit'),
    },
    // CPU per delivered message by process group, sends and drain included (instructions need `perf`;
    // unlike msg/s they barely move between runs on a shared VM, so compare builds with them).
    costPerDelivered: costPer(costs, Math.max(1, deliveredSinceWarmup)),
    // CPU in cores (CPU seconds per second) by process group over the same span: at a paced (--interval-ms)
    // load, the difference to a run without devices/presence/typing is what those cost.
    cpuCores: Object.fromEntries(
      Object.entries(costs).map(([name, c]) => [name, round(c.cpuMs / 1000 / costSeconds)]),
    ),
  };
  if (values.storm && modern) {
    // The first storm also pays for compiling the resume path; later ones show a node that has run for a while.
    modern.measureLatency = false;
    const storms: { allResumedS: number; costPerResume: unknown }[] = [];
    for (let i = 0; i < values.storms; i++) {
      const stormCost = ProcessCost.start(processGroups);
      const stormStart = performance.now();
      await Promise.all(
        modern.clients.map((client) => {
          const resumed = new Promise<void>((resolve) => client.once('resumed', () => resolve()));
          client.dropConnection();
          return resumed;
        }),
      );
      const allResumedS = round((performance.now() - stormStart) / 1000);
      storms.push({ allResumedS, costPerResume: costPer(await stormCost.stop(), modern.clients.length) });
    }
    result.storms = storms;
  }
  console.log(JSON.stringify(result, null, 2));
  traffic.close();
} finally {
  await cluster.stop();
}
