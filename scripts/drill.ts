/**
 * `npm run drill [-- --clients 60 --apps 3 --prefix pd1 --time-limit 300 --json out.json --keep]`: the
 * automated failover drill in network namespaces (root). Prints a table of failover times and message
 * accounting; exits 0 when nothing was lost, duplicated, reordered or left behind, 1 otherwise, and 0 with
 * a "skipped" line when not root (outside CI).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Drill, type DrillResult } from './lib/drill/drill.js';
import { renderDrillReport } from './lib/drill/report.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '60' },
    apps: { type: 'string', default: '3' },
    prefix: { type: 'string', default: process.env.DRILL_PREFIX ?? `pd${process.pid % 100000}` },
    'time-limit': { type: 'string', default: '300' },
    json: { type: 'string' },
    faults: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const say = (line: string) => process.stdout.write(`${line}\n`);

if (process.getuid?.() !== 0) {
  const message = 'drill: needs root (network namespaces, veths, keepalived)';
  if (process.env.CI) {
    process.stderr.write(`${message}; CI runs as root, so this is a failure\n`);
    process.exit(1);
  }
  say(`${message}: skipped`);
  process.exit(0);
}
const has = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`]).status === 0;
const missing = [
  ['mariadbd', 'mariadb-server'],
  ['redis-server', 'redis-server'],
  ['nginx', 'nginx'],
  ['keepalived', 'keepalived'],
  ['ip', 'iproute2'],
].flatMap(([cmd, pkg]) => (has(cmd!) ? [] : [pkg!]));
if (!existsSync('/usr/lib/nginx/modules/ngx_stream_module.so')) missing.push('libnginx-mod-stream');
if (missing.length > 0) {
  process.stderr.write(
    `drill: missing programs. Install them with:\n  apt-get install ${missing.join(' ')}\n`,
  );
  process.exit(1);
}

const prefix = values.prefix;
if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) {
  process.stderr.write('drill: --prefix must be 1–8 lowercase letters or digits, starting with a letter\n');
  process.exit(2);
}
const started = performance.now();
const drill = new Drill({
  prefix,
  clients: Number(values.clients),
  apps: Math.min(3, Math.max(2, Number(values.apps))),
  maxFaults: values.faults === undefined ? undefined : Number(values.faults),
  log: (line) => say(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`),
});

let stopping: Promise<void> | undefined;
const tearDown = (keep: boolean) => (stopping ??= drill.stop(keep));
const abort = async (why: string, code: number) => {
  process.stderr.write(`drill: ${why}; tearing down\n`);
  await tearDown(values.keep).catch((error: unknown) => process.stderr.write(`teardown: ${String(error)}\n`));
  if (values.keep) process.stderr.write(`logs kept in ${drill.stateDir}\n`);
  process.exit(code);
};
process.once('SIGINT', () => void abort('interrupted', 130));
process.once('SIGTERM', () => void abort('terminated', 143));
const limitS = Number(values['time-limit']);
setTimeout(() => void abort(`time limit of ${limitS} s reached`, 1), limitS * 1000).unref();

let result: DrillResult;
try {
  await drill.setUp();
  await drill.startLoad();
  result = await drill.run();
} catch (error) {
  process.stderr.write(`drill failed: ${(error as Error).stack ?? String(error)}\n${drill.diagnostics()}\n`);
  await abort('failed', 1);
  throw error; // unreachable: abort exits
}
const keep = values.keep || result.problems.length > 0;
await tearDown(keep);
say('');
say(
  renderDrillReport(result, {
    clients: Number(values.clients),
    seconds: (performance.now() - started) / 1000,
  }),
);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
if (keep) say(`logs kept in ${drill.stateDir}`);
if (result.problems.length > 0) {
  say(`\nDRILL FAILED:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
say('\nDRILL PASSED');
process.exit(0);
