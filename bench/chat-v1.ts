/**
 * Benchmark (not a test): the workloads of the side-by-side comparison (issue 21) with v1 clients (the
 * original's protocol, one TCP connection per user, no acks) through nginx, against a local Parley cluster
 * or two bare relays (bench/lib/v1-relay.ts: the box's ceiling), so Parley's figures are ratios of the
 * relay's in the same sitting.
 *
 *   npm run bench:v1 -- --workload W1 --compare
 *   npm run bench:v1 -- --workload all --compare --seconds 8
 *   npm run bench:v1 -- --workload W3 --target parley --root /work/wt-old   (another build)
 */
import '../src/require-node.js';
import bcrypt from 'bcrypt';
import { LegacyTraffic } from '../scripts/lib/legacy-traffic.js';
import { LOAD_TEST_LIMITS } from '../scripts/lib/load-test-env.js';
import { runCommandLine } from '../src/util/command-line.js';
import { ProcessCost, type GroupCost } from './lib/process-cost.js';
import {
  flattenFigures,
  latencySummary,
  pairClasses,
  randomPairs,
  range,
  ratios,
  sameNodePairs,
} from './lib/v1-figures.js';
import { loginStorm, type LoginStormResult } from './lib/v1-login-storm.js';
import { startParley, startRelay, type V1Target } from './lib/v1-targets.js';

/** MariaDB's per-kind statement counters reported per delivered message (explicit COMMITs, the append's
 * INSERT … SELECT, the ack writer's and pruner's multi-table UPDATE and DELETE, reads). */
const STATEMENT_COUNTERS = [
  'Com_commit',
  'Com_insert',
  'Com_insert_select',
  'Com_update',
  'Com_update_multi',
  'Com_delete_multi',
  'Com_select',
] as const;

const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'] as const;
type Workload = (typeof WORKLOADS)[number];

const { values } = runCommandLine({
  name: 'bench:v1',
  usage: 'npm run bench:v1 -- --workload W1|W2|W3|W4|W5|W6|all [options]',
  summary: `Benchmark (not a test): the side-by-side workloads with v1 clients through nginx, against a local
Parley cluster (private MariaDB and Redis, two nodes) or two bare relays (the box's ceiling). W1 1000
users closed loop, pairs on the same node; W2 as W1, random pairs; W3 100 users, one message in flight;
W4 1000 users, open loop at --rate msg/s; W5 --logins password logins at concurrency 64 (first-time and
repeat, bcrypt cost 10); W6 --idle idle logged-in clients (memory per connection after forced GCs).
Placement (same / cross node) is read from where each user landed: Redis presence (Parley), the login
reply (relay). Prints delivered msg/s, latency percentiles split same / cross node, lost / duplicated,
CPU µs per delivered message per process group, and with --compare Parley ÷ relay per figure.
Run it under the shared lock: flock /tmp/parley-bench.lock npm run bench:v1 -- …`,
  options: {
    workload: {
      type: 'string',
      value: '<W1..W6|all>',
      default: 'all',
      description: 'workload(s), comma-separated',
    },
    target: {
      type: 'string',
      value: '<parley|relay>',
      default: 'parley',
      description: 'what runs behind nginx',
    },
    compare: {
      type: 'boolean',
      description: 'parley, relay, parley, relay in one sitting; print Parley ÷ relay',
    },
    runs: { type: 'integer', default: 0, description: 'runs per target (default 2 with --compare, else 1)' },
    root: {
      type: 'string',
      value: '<dir>',
      default: '',
      description: 'checkout whose Parley to run (needs its node_modules)',
    },
    seconds: { type: 'number', value: '<s>', default: 8, description: 'measured chat window' },
    warmup: { type: 'number', value: '<s>', default: 2, description: 'chat before the window' },
    rate: { type: 'number', value: '<msg/s>', default: 3000, description: 'W4 offered rate' },
    logins: { type: 'integer', default: 1000, description: 'W5 logins per variant' },
    idle: { type: 'integer', default: 5000, description: 'W6 idle clients' },
    'relay-pad': {
      type: 'boolean',
      description:
        'the relay pads frames to 1024 bytes as Parley does for original clients (default: as received)',
    },
    'node-arg': {
      type: 'string',
      multiple: true,
      value: '<flag>',
      description: 'a node flag for every Parley node, e.g. --node-arg=--cpu-prof',
    },
    'node-env': {
      type: 'string',
      multiple: true,
      value: '<KEY=VALUE>',
      description: 'a Parley setting for every node',
    },
  },
});

const workloads: Workload[] =
  values.workload === 'all'
    ? [...WORKLOADS]
    : values.workload.split(',').map((w) => {
        const name = w.trim().toUpperCase() as Workload;
        if (!WORKLOADS.includes(name))
          throw new Error(`--workload ${w}: one of ${WORKLOADS.join(', ')} or all`);
        return name;
      });
if (values.target !== 'parley' && values.target !== 'relay') throw new Error('--target is parley or relay');
const nodeEnv = Object.fromEntries(
  values['node-env'].map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--node-env ${pair}: expected KEY=VALUE`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const runsPerTarget = values.runs || (values.compare ? 2 : 1);
const order: ('parley' | 'relay')[] = values.compare
  ? Array.from({ length: runsPerTarget }, () => ['parley', 'relay'] as const).flat()
  : Array.from({ length: runsPerTarget }, () => values.target as 'parley' | 'relay');

/** Node settings as side-by-side.md ran them: limits raised, bcrypt cheap unless the workload is about it. */
function parleyEnv(bcryptCost: number): Record<string, string> {
  return {
    ...LOAD_TEST_LIMITS,
    LOG_LEVEL: 'warn',
    LOGIN_BURST: '100000',
    LOGIN_RATE_PER_S: '100000',
    RATE_PER_S: '100000',
    RATE_BURST: '100000',
    BCRYPT_COST: String(bcryptCost),
    ...nodeEnv,
  };
}

async function start(kind: 'parley' | 'relay', bcryptCost: number, inspect: boolean): Promise<V1Target> {
  const options = {
    env: parleyEnv(bcryptCost),
    inspect,
    root: values.root || undefined,
    nodeArgs: values['node-arg'],
    relayPad: values['relay-pad'],
  };
  return kind === 'parley' ? startParley(options) : startRelay(options);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const GROUPS = ['nodes', 'nginx', 'mariadb', 'redis', 'loadGenerator', 'machine'] as const;

/**
 * CPU µs per unit of work by group, plus `system`: the groups of the system under test and the load
 * generator together (what `machine` would be on a box nobody else uses).
 */
function perUnit(costs: Record<string, GroupCost>, count: number): Record<string, number> {
  const us = (ms: number) => round((ms * 1000) / Math.max(1, count));
  const per: Record<string, number> = Object.fromEntries(GROUPS.map((g) => [g, us(costs[g]?.cpuMs ?? 0)]));
  const own = GROUPS.filter((g) => g !== 'machine').reduce((sum, g) => sum + (costs[g]?.cpuMs ?? 0), 0);
  per.system = us(own);
  return per;
}

/** W1–W4: register and log in `users`, pair them, chat for the window, drain; the figures. */
async function chat(target: V1Target, workload: Workload): Promise<Record<string, unknown>> {
  const users = workload === 'W3' ? 100 : 1000;
  const intervalMs = workload === 'W4' ? (users * 1000) / values.rate : 0;
  const traffic = new LegacyTraffic({
    host: '127.0.0.1',
    port: target.port,
    clients: users,
    window: 1,
    // W3: one message on its way in the whole load (unloaded latency), senders taking turns.
    ...(workload === 'W3' ? { inFlight: 1 } : {}),
    loginConcurrency: 64,
    intervalMs,
  });
  try {
    await traffic.connect();
    const nodes = await target.placement(traffic.roster());
    const pairs = workload === 'W1' ? sameNodePairs(nodes) : randomPairs(users);
    const classes = pairClasses(pairs, nodes);
    traffic.pair(pairs);
    traffic.classify(classes);
    traffic.start();
    await sleep(values.warmup * 1000);
    traffic.clearLatencies();
    const before = traffic.report();
    const dbBefore = await target.dbCounters();
    const cost = ProcessCost.start({ ...target.processGroups(), loadGenerator: [process.pid] });
    const windowStart = performance.now();
    await sleep(values.seconds * 1000);
    const inWindow = traffic.report();
    const elapsed = (performance.now() - windowStart) / 1000;
    traffic.stop();
    const report = await traffic.drain(15_000);
    // CPU runs on until every send in flight is shown, so it is divided by the deliveries of that span.
    const costs = await cost.stop();
    const spanMs = performance.now() - windowStart;
    const dbAfter = await target.dbCounters();
    const delivered = report.delivered - before.delivered;
    // Per delivered message (the probe's own two statements included, negligible at these counts).
    const db = (name: string) =>
      round(((dbAfter.get(name) ?? 0) - (dbBefore.get(name) ?? 0)) / Math.max(1, delivered), 3);
    const count = (cls: string) => classes.filter((c) => c === cls).length / 2;
    const strip = (sorted: Float64Array | undefined) => {
      const { p50, p90, p99 } = latencySummary(sorted ?? new Float64Array());
      return { p50, p90, p99 };
    };
    return {
      users: traffic.count,
      pairs: { same: count('same'), cross: count('cross'), unknown: count('unknown') },
      offeredPerS: Math.round((inWindow.sent - before.sent) / elapsed),
      deliveredPerS: Math.round((inWindow.delivered - before.delivered) / elapsed),
      lost: report.lost,
      duplicates: report.duplicates,
      reordered: report.reordered,
      refused: report.refused,
      latencyMs: {
        all: strip(report.latenciesMs),
        same: strip(report.latenciesByClass.same),
        cross: strip(report.latenciesByClass.cross),
      },
      cpuUsPerMsg: perUnit(costs, delivered),
      // Cores each group kept busy over the window and the drain: who is saturated, who waits.
      coresBusy: Object.fromEntries(GROUPS.map((g) => [g, round((costs[g]?.cpuMs ?? 0) / spanMs, 2)])),
      ...(dbAfter.size > 0
        ? {
            mysqlPerMsg: {
              commits: db('Handler_commit'),
              fsyncs: db('Innodb_data_fsyncs'),
              roundTrips: db('Questions'),
              // Statements by kind (which writer they come from: docs/BENCHMARKS.md, "W4 commits by source").
              statements: Object.fromEntries(
                STATEMENT_COUNTERS.map((name) => [name.replace(/^Com_/, ''), db(name)]),
              ),
            },
          }
        : {}),
    };
  } finally {
    traffic.close();
  }
}

/** W5: the same users log in twice — first-time (bcrypt) and repeat (within the credential cache's TTL). */
async function logins(target: V1Target): Promise<Record<string, unknown>> {
  const hash = await bcrypt.hash('pw', 10);
  const ids = await target.seedUsers(values.logins, hash);
  const out: Record<string, unknown> = {};
  // Where each user's login landed, per variant: a per-process credential cache only helps a repeat
  // login that lands on the node that verified the first one.
  const landed: (string | undefined)[][] = [];
  for (const variant of ['first', 'repeat'] as const) {
    const cost = ProcessCost.start({ ...target.processGroups(), loadGenerator: [process.pid] });
    const result: LoginStormResult = await loginStorm({
      host: '127.0.0.1',
      port: target.port,
      ids,
      password: 'pw',
      concurrency: 64,
      timeoutMs: 120_000,
      beforeClose: async () => {
        landed.push(await target.placement(ids.map((id) => ({ id, node: undefined }))));
      },
    });
    const costs = await cost.stop();
    const { p50, p90, p99 } = latencySummary(result.latenciesMs);
    out[variant] = {
      loginsPerS: Math.round(result.latenciesMs.length / result.seconds),
      latencyMs: { p50, p90, p99, max: round(result.latenciesMs.at(-1) ?? NaN, 2) },
      failed: Object.values(result.failures).reduce((a, b) => a + b, 0),
      failures: result.failures,
      cpuUsPerLogin: perUnit(costs, result.latenciesMs.length),
    };
  }
  const [first = [], repeat = []] = landed;
  out.repeatOnSameNodeShare = round(
    repeat.filter((node, i) => node !== undefined && node === first[i]).length / Math.max(1, ids.length),
    2,
  );
  return out;
}

/** W6: memory per idle logged-in connection, from forced-GC readings before and after the logins. */
async function idle(target: V1Target): Promise<Record<string, unknown>> {
  const before = await target.memory();
  const nginxBefore = await target.nginxRss();
  const traffic = new LegacyTraffic({
    host: '127.0.0.1',
    port: target.port,
    clients: values.idle,
    loginConcurrency: 64,
  });
  try {
    await traffic.connect();
    await sleep(1000);
    const nodes = await target.placement(traffic.roster());
    const after = await target.memory();
    const nginxAfter = await target.nginxRss();
    const perNode: Record<string, unknown> = {};
    let rssDelta = 0;
    let heapDelta = 0;
    for (const { node, memory } of after) {
      const base = before.find((b) => b.node === node)!.memory;
      const connections = nodes.filter((n) => n === node).length;
      rssDelta += memory.rssBytes - base.rssBytes;
      heapDelta += memory.heapUsedBytes - base.heapUsedBytes;
      perNode[node] = {
        connections,
        baselineRssMb: round(base.rssBytes / 2 ** 20),
        baselineHeapMb: round(base.heapUsedBytes / 2 ** 20),
        rssKbPerConn: round((memory.rssBytes - base.rssBytes) / 1024 / Math.max(1, connections)),
        heapKbPerConn: round((memory.heapUsedBytes - base.heapUsedBytes) / 1024 / Math.max(1, connections)),
      };
    }
    const n = traffic.count;
    return {
      clients: n,
      unplaced: nodes.filter((node) => node === undefined).length,
      nodeBaselineRssMb: round(before.reduce((a, b) => a + b.memory.rssBytes, 0) / before.length / 2 ** 20),
      nodeBaselineHeapMb: round(
        before.reduce((a, b) => a + b.memory.heapUsedBytes, 0) / before.length / 2 ** 20,
      ),
      rssKbPerConn: round(rssDelta / 1024 / n),
      heapKbPerConn: round(heapDelta / 1024 / n),
      nginxKbPerConn: round((nginxAfter - nginxBefore) / 1024 / n),
      perNode,
    };
  } finally {
    traffic.close();
  }
}

/** The target running now: Ctrl-C (or SIGTERM) stops it before exiting, so nothing is left behind. */
let running: V1Target | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`bench:v1: ${signal}, stopping the ${running?.kind ?? 'nothing'} running`);
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });

async function run(kind: 'parley' | 'relay', workload: Workload): Promise<Record<string, unknown>> {
  const target = await start(kind, workload === 'W5' ? 10 : 4, workload === 'W6');
  running = target;
  try {
    if (workload === 'W5') return await logins(target);
    if (workload === 'W6') return await idle(target);
    return await chat(target, workload);
  } finally {
    running = undefined;
    await target.stop();
  }
}

const summary: Record<string, unknown> = {};
for (const workload of workloads) {
  const results: { kind: 'parley' | 'relay'; figures: Record<string, unknown> }[] = [];
  for (const kind of order) {
    const figures = await run(kind, workload);
    results.push({ kind, figures });
    console.log(
      `${workload} ${kind} #${results.filter((r) => r.kind === kind).length} ${JSON.stringify(figures)}`,
    );
  }
  const of = (kind: string) => results.filter((r) => r.kind === kind).map((r) => flattenFigures(r.figures));
  const parley = of('parley');
  const relay = of('relay');
  const byFigure = ratios(parley, relay);
  const keys = [...new Set([...parley, ...relay].flatMap((m) => [...m.keys()]))];
  const rows = keys.map((key) => ({
    figure: key,
    parley: range(parley.map((m) => m.get(key)).filter((v): v is number => v !== undefined)),
    relay: range(relay.map((m) => m.get(key)).filter((v): v is number => v !== undefined)),
    ...(values.compare ? { 'parley ÷ relay': range(byFigure.get(key) ?? []) } : {}),
  }));
  console.log(`\n${workload}${values.root ? ` (Parley from ${values.root})` : ''}`);
  console.table(rows);
  summary[workload] = results;
}
if (process.env.BENCH_V1_JSON) console.log(JSON.stringify(summary));
