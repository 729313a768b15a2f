/**
 * `npm run cluster [-- --nodes 3 --port 8000]`: a complete local Parley cluster on loopback — private
 * MariaDB and Redis (or the ones in MYSQL_URL / REDIS_URL), N nodes, and nginx's stream load balancer on
 * 127.0.0.1:8000 for TCP and WebSocket clients, and 127.0.0.1:8443 for both over TLS. Ctrl-C stops
 * everything it started and keeps the logs.
 */
import '../src/require-node.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/package-info.js';
import { runCommandLine } from '../src/util/command-line.js';
import { LocalCluster } from './lib/cluster.js';
import { NodeSettingError, nodeSettings } from './lib/cluster-env.js';
import { NodeSupervisor } from './lib/node-supervisor.js';
import { PortInUseError } from './lib/ports.js';

const { values } = runCommandLine({
  name: 'cluster',
  usage: 'npm run cluster -- [options]',
  summary: `A local Parley cluster on 127.0.0.1: a private MariaDB and Redis (or the servers in MYSQL_URL and
REDIS_URL), N Parley nodes, and nginx's stream load balancer in front of them for TCP and WebSocket
clients, plaintext and over TLS (a private CA and certificate made on first use). Refuses to start when
a port it needs is taken. Ctrl-C stops everything and keeps the logs.`,
  options: {
    nodes: { type: 'integer', default: 2, description: 'Parley nodes to start, 1-16' },
    port: {
      type: 'integer',
      default: 8000,
      value: '<port>',
      description: 'load-balancer port on 127.0.0.1; 0 picks a free one',
    },
    'tls-port': {
      type: 'integer',
      value: '<port>',
      description:
        'TLS port of the load balancer on 127.0.0.1 (TCP JSON and wss:// /ws over TLS; default 8443, or a free one with --port 0)',
    },
    'admin-port': {
      type: 'integer',
      value: '<port>',
      description:
        "nginx's admin HTTP port on 127.0.0.1 (/healthz, /metrics of any node; default: a free one)",
    },
    env: {
      type: 'string',
      multiple: true,
      value: '<KEY=VALUE>',
      description: 'a Parley setting for every node, e.g. --env BCRYPT_COST=4',
    },
    restart: {
      type: 'boolean',
      description: 'start a node that died again (after 1 s, doubling up to 30 s while it keeps dying)',
    },
  },
  env: [
    ['MYSQL_URL, REDIS_URL', 'use these servers instead of private ones'],
    [
      'BCRYPT_COST, LOG_LEVEL, …',
      "every Parley setting set in this shell (the README's configuration table)",
    ],
    ['', 'reaches every node; --env wins over it. NODE_ID and the hosts and ports are'],
    ['', 'set by the cluster for each node.'],
  ],
  notes:
    'Exit status: 0 after Ctrl-C (npm run itself reports 130 for an interrupted script), 1 when the cluster could not start, 2 for a bad option.',
});

/** Prints one line and exits 2 (a usage error), like a bad flag. */
function usage(message: string, seeHelp = true): never {
  process.stderr.write(`cluster: ${message}${seeHelp ? ' (see --help)' : ''}\n`);
  process.exit(2);
}

if (values.nodes < 1 || values.nodes > 16) usage(`--nodes needs a number from 1 to 16, got ${values.nodes}`);
const nodeCount = values.nodes;
const port = values.port;
if (port < 0 || port > 65535) usage(`--port needs a port number (0 picks a free one), got ${port}`);
const adminPort = values['admin-port'];
if (adminPort !== undefined && (adminPort < 1 || adminPort > 65535))
  usage(`--admin-port needs a port number, got ${adminPort}`);
if (adminPort !== undefined && adminPort === port) usage(`--admin-port ${adminPort} is the same as --port`);
const tlsPort = values['tls-port'] ?? (port === 0 ? 0 : 8443);
if (tlsPort < 0 || tlsPort > 65535)
  usage(`--tls-port needs a port number (0 picks a free one), got ${tlsPort}`);
if (tlsPort !== 0 && (tlsPort === port || tlsPort === adminPort))
  usage(`--tls-port ${tlsPort} is the same as another port`);
// The TLS listener's certificate: made with openssl on first use, then reused (delete the folder to renew).
const tlsDir = join(PACKAGE_ROOT, '.tmp', 'cluster-tls');
let settings;
try {
  settings = nodeSettings(process.env, values.env);
} catch (error) {
  if (error instanceof NodeSettingError) usage(error.message, false);
  throw error;
}

const missing: string[] = [];
const has = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`]).status === 0;
if (!process.env.MYSQL_URL && !(has('mariadbd') && has('mariadb-install-db'))) missing.push('mariadb-server');
if (!process.env.REDIS_URL && !has('redis-server')) missing.push('redis-server');
if (!has('nginx')) missing.push('nginx');
if (
  !existsSync('/usr/lib/nginx/modules/ngx_stream_module.so') &&
  !spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr?.includes('--with-stream ')
) {
  missing.push('libnginx-mod-stream');
}
if (missing.length > 0) {
  process.stderr.write(
    `cluster: missing programs. Install them with:\n  sudo apt-get install ${missing.join(' ')}\n`,
  );
  process.exit(1);
}

const passed = [
  ...settings.inherited.map((name) => `${name} (environment)`),
  ...settings.flags.map((name) => `${name} (--env)`),
];
console.log(`starting MariaDB, Redis, ${nodeCount} Parley node(s) and nginx …`);
if (passed.length > 0) console.log(`node settings: ${passed.join(', ')}`);

// Until the cluster is up, a stop request waits for the start (which then stops what it started).
let stopRequested = false;
const early = () => (stopRequested = true);
process.on('SIGINT', early);
process.on('SIGTERM', early);

let cluster: LocalCluster;
try {
  cluster = await LocalCluster.start({
    nodes: nodeCount,
    port,
    adminPort,
    tlsPort,
    tlsDir,
    mysqlUrl: process.env.MYSQL_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    env: settings.env,
  });
} catch (error) {
  if (stopRequested) {
    process.stderr.write('cluster: stopped before it was up\n');
    process.exit(0);
  }
  // A refusal is one line; anything else gets its message (node start failures carry their last log lines).
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `cluster: ${error instanceof PortInUseError ? message : `could not start: ${message}`}\n`,
  );
  process.exit(1);
}

console.log(`
Parley cluster is up.
  chat (TCP JSON)      127.0.0.1:${cluster.port}
  chat (WebSocket)     ws://127.0.0.1:${cluster.port}/ws
  chat over TLS        127.0.0.1:${cluster.tlsPort}   npm run client -- 127.0.0.1 ${cluster.tlsPort} --ca ${cluster.tlsCa}
  WebSocket over TLS   wss://localhost:${cluster.tlsPort}/ws
  TLS certificate      ${tlsDir} (a private CA and a localhost certificate, made once and reused; trust ca.pem)
  admin (via nginx)    http://127.0.0.1:${cluster.adminPort}/healthz  /metrics
  MySQL                ${cluster.mysqlUrl}
  Redis                ${cluster.redisUrl}
${cluster.nodes.map((n) => `  ${n.nodeId.padEnd(20)} chat 127.0.0.1:${n.chatPort}  admin http://127.0.0.1:${n.adminPort}  pid ${n.pid}`).join('\n')}
  logs                 ${cluster.dir} (kept after Ctrl-C)

Dead nodes are reported${values.restart ? ' and restarted' : ' (--restart restarts them)'}. Ctrl-C stops everything.`);

const supervisor = new NodeSupervisor(cluster.nodes, {
  restart: values.restart,
  report: (text) => console.log(text),
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // Ctrl-C in a terminal reaches the nodes too (same process group): their exits are not deaths.
  supervisor.close();
  console.log('\nstopping …');
  cluster.stop({ keepLogs: true }).then(
    () => {
      console.log(`node logs kept in ${cluster.dir}`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.off('SIGINT', early);
process.off('SIGTERM', early);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (stopRequested) stop();
