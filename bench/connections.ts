/**
 * Benchmark (not a test): how many concurrent logged-in v2 clients a local cluster holds through nginx.
 * The clients are spread over several worker processes (a process may hold at most ~20,000 open files),
 * every client logs in, then each answers a ping while all are connected.
 *
 *   npm run bench:connections -- --clients 20000 --workers 4 --nodes 2 [--storm]
 *
 * With --storm, every worker drops all its connections at the same moment and the time until every
 * client has resumed (token resume through nginx) is reported.
 */
import '../src/require-node.js';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../scripts/lib/cluster.js';
import { BENCH_NODE_ENV } from '../scripts/lib/load-test-env.js';
import { Traffic } from '../scripts/lib/traffic.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:connections',
  usage: 'npm run bench:connections -- [options]',
  summary: `Benchmark (not a test): how many concurrent logged-in v2 clients a local cluster holds through
nginx. The clients are spread over worker processes (a process may hold at most ~20,000 open files);
every client logs in, then each answers a ping while all are connected. With --storm, every worker drops
all its connections at once and the time until every client has resumed is reported. Needs
mariadb-server, redis-server, nginx and libnginx-mod-stream.`,
  options: {
    clients: { type: 'integer', default: 20000, description: 'clients in all' },
    workers: { type: 'integer', default: 4, description: 'client processes' },
    nodes: { type: 'integer', default: 2, description: 'Parley nodes' },
    storm: { type: 'boolean', description: 'then drop every connection at once and time the resume' },
    'node-args': {
      type: 'string',
      value: '"<flags>"',
      default: '',
      description: 'extra node flags for the server nodes, e.g. "--cpu-prof"',
    },
    worker: { type: 'string', description: '(internal) run as client worker number N' },
    port: { type: 'integer', description: '(internal) the worker connects to this port' },
  },
});

interface WorkerReport {
  loggedIn: number;
  pinged: number;
  retries: number;
  seconds: number;
}

if (values.worker !== undefined) {
  // Worker: log in its share, report, hold until told to finish, then ping every client once more.
  const traffic = new Traffic({
    host: '127.0.0.1',
    port: values.port!,
    clients: values.clients,
    loginConcurrency: 50,
    namePrefix: `w${values.worker}`,
  });
  const start = performance.now();
  await traffic.connect();
  process.send!({
    phase: 'connected',
    loggedIn: traffic.clients.length,
    seconds: (performance.now() - start) / 1000,
  });
  let command = await new Promise<string>((resolve) => process.once('message', (m: string) => resolve(m)));
  if (command === 'storm') {
    // Drop every connection of this worker at once; report when all have resumed.
    const stormStart = performance.now();
    let resumedCount = 0;
    const progress = setInterval(
      () =>
        process.stderr.write(`worker ${values.worker}: ${resumedCount}/${traffic.clients.length} resumed\n`),
      5000,
    );
    progress.unref();
    await Promise.all(
      traffic.clients.map((client) => {
        const resumed = new Promise<void>((resolve) =>
          client.once('resumed', () => (resumedCount++, resolve())),
        );
        client.dropConnection();
        return resumed;
      }),
    );
    clearInterval(progress);
    process.send!({ phase: 'stormed', seconds: (performance.now() - stormStart) / 1000 });
    command = await new Promise<string>((resolve) => process.once('message', (m: string) => resolve(m)));
  }
  let pinged = 0;
  for (let i = 0; i < traffic.clients.length; i += 500) {
    const results = await Promise.allSettled(traffic.clients.slice(i, i + 500).map((c) => c.ping()));
    pinged += results.filter((r) => r.status === 'fulfilled').length;
  }
  const report: WorkerReport = {
    loggedIn: traffic.clients.length,
    pinged,
    retries: traffic.connectRetries,
    seconds: (performance.now() - start) / 1000,
  };
  process.send!({ phase: 'done', ...report });
  traffic.close();
  process.exit(0);
}

const total = values.clients;
const workers = values.workers;
const cluster = await LocalCluster.start({
  nodes: values.nodes,
  port: 0,
  nodeArgs: values['node-args'].split(' ').filter(Boolean),
  env: {
    ...BENCH_NODE_ENV,
  },
});
try {
  const start = performance.now();
  const children = Array.from({ length: workers }, (_, w) =>
    fork(
      fileURLToPath(import.meta.url),
      [
        '--worker',
        String(w),
        '--port',
        String(cluster.port),
        '--clients',
        String(Math.ceil(total / workers)),
      ],
      {
        execArgv: ['--import', 'tsx'],
      },
    ),
  );
  const connected = await Promise.all(
    children.map(
      (child) =>
        new Promise<{ loggedIn: number }>((resolve) =>
          child.on(
            'message',
            (m: { phase: string; loggedIn: number }) => m.phase === 'connected' && resolve(m),
          ),
        ),
    ),
  );
  const loginSeconds = (performance.now() - start) / 1000;
  const sessions = await Promise.all(
    cluster.nodes.map(async (node) => {
      const metrics = await (await fetch(`http://127.0.0.1:${node.adminPort}/metrics`)).text();
      return Number(/^parley_sessions (\d+)/m.exec(metrics)?.[1] ?? 0);
    }),
  );
  let stormSeconds: number | undefined;
  if (values.storm) {
    const stormed = children.map(
      (child) =>
        new Promise<number>((resolve) =>
          child.on(
            'message',
            (m: { phase: string; seconds: number }) => m.phase === 'stormed' && resolve(m.seconds),
          ),
        ),
    );
    for (const child of children) child.send('storm');
    stormSeconds = Math.max(...(await Promise.all(stormed)));
  }
  const done = children.map(
    (child) =>
      new Promise<WorkerReport>((resolve) =>
        child.on('message', (m: { phase: string } & WorkerReport) => m.phase === 'done' && resolve(m)),
      ),
  );
  for (const child of children) child.send('finish');
  const reports = await Promise.all(done);
  console.log(
    JSON.stringify(
      {
        clients: total,
        workers,
        nodes: cluster.nodes.length,
        loggedIn: connected.reduce((n, c) => n + c.loggedIn, 0),
        sessionsPerNode: sessions,
        allConnectedAfterS: Math.round(loginSeconds * 10) / 10,
        pingedWhileAllConnected: reports.reduce((n, r) => n + r.pinged, 0),
        connectRetries: reports.reduce((n, r) => n + r.retries, 0),
        ...(stormSeconds === undefined ? {} : { stormAllResumedS: Math.round(stormSeconds * 100) / 100 }),
      },
      null,
      2,
    ),
  );
} finally {
  await cluster.stop();
}
