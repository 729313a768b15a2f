/**
 * `npm run cluster [-- --nodes 3 --port 8000]`: a complete local Parley cluster on loopback — private
 * MariaDB and Redis (or the ones in MYSQL_URL / REDIS_URL), N nodes, and nginx's stream load balancer on
 * 127.0.0.1:8000 for TCP and WebSocket clients. Ctrl-C stops everything it started.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LocalCluster } from './lib/cluster.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '2' }, port: { type: 'string', default: '8000' } },
});

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

console.log(`starting MariaDB, Redis, ${values.nodes} Parley node(s) and nginx …`);
const cluster = await LocalCluster.start({
  nodes: Number(values.nodes),
  port: Number(values.port),
  mysqlUrl: process.env.MYSQL_URL,
  redisUrl: process.env.REDIS_URL,
});
console.log(`
Parley cluster is up.
  chat (TCP JSON)      127.0.0.1:${cluster.port}
  chat (WebSocket)     ws://127.0.0.1:${cluster.port}/ws
  admin (via nginx)    http://127.0.0.1:${cluster.adminPort}/healthz  /metrics
  MySQL                ${cluster.mysqlUrl}
  Redis                ${cluster.redisUrl}
${cluster.nodes.map((n) => `  ${n.nodeId.padEnd(20)} chat 127.0.0.1:${n.chatPort}  admin http://127.0.0.1:${n.adminPort}  pid ${n.pid}  log ${n.logFile}`).join('\n')}

Ctrl-C stops everything.`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping …');
  cluster.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
