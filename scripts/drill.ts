/**
 * `npm run drill [-- --clients 60 --v1-clients 20 --apps 3 --prefix pd1 --time-limit 300 --json out.json --keep]`: the
 * automated failover drill in network namespaces (root). Prints a table of failover times and message
 * accounting; exits 0 when nothing was lost, duplicated, reordered or left behind, 1 otherwise, and 0 with
 * a "skipped" line when not root (outside CI).
 */
import '../src/require-node.js';
import { writeFileSync } from 'node:fs';
import { runCommandLine } from '../src/util/command-line.js';
import { missingMessage, missingPackages, packagesFor, systemProbe } from './lib/debian-packages.js';
import { Drill, type DrillResult } from './lib/drill/drill.js';
import { renderDrillReport } from './lib/drill/report.js';

const { values } = runCommandLine({
  name: 'drill',
  usage: 'npm run drill -- [options]     (as root)',
  summary: `The failover drill on one machine: two load balancers (nginx + keepalived moving a VIP), Parley
nodes, MariaDB and Redis, and chatting clients (a share of the users on several devices), each in its own network namespace; then eight faults
(nginx crash, frozen LB, keepalived stop, the old master's return, a node killed, a node unplugged, a
Redis restart, …). Prints a table of failover times and message accounting; exits 0 when nothing was
lost, duplicated, reordered or left behind, 1 otherwise. Needs root; without it, it says so and exits 0
(1 under CI). Takes about a minute.`,
  options: {
    clients: { type: 'integer', default: 60, description: 'chatting users (v2)' },
    devices: {
      type: 'integer',
      default: 2,
      description: 'devices of each v2 user that has several (each another client of the user)',
    },
    'device-share': {
      type: 'number',
      value: '<0..1>',
      default: 1 / 3,
      description: 'share of the v2 users with --devices devices (the others have one)',
    },
    'v1-clients': {
      type: 'integer',
      default: 20,
      description: 'users of the original C++ client (emulated), in pairs (0: none)',
    },
    apps: { type: 'integer', default: 3, description: 'Parley nodes (2 or 3)' },
    prefix: {
      type: 'string',
      default: process.env.DRILL_PREFIX ?? `pd${process.pid % 100000}`,
      description: 'prefix of namespace and interface names (1-8 lowercase letters or digits)',
    },
    'time-limit': { type: 'integer', value: '<s>', default: 300, description: 'give up after this long' },
    json: { type: 'string', value: '<file>', description: 'also write the result as JSON here' },
    faults: { type: 'integer', description: 'run only the first N faults (default: all)' },
    keep: { type: 'boolean', description: 'keep the namespaces, logs and data dirs afterwards' },
    'node-env': {
      type: 'string',
      multiple: true,
      value: '<KEY=VALUE>',
      description: "a Parley setting for every node on top of the drill's, e.g. --node-env V1_PACE_MS=5",
    },
  },
  env: [
    ['DRILL_PREFIX', 'default of --prefix'],
    ['CI', 'set: not being root is a failure instead of a skip'],
  ],
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
const missing = missingPackages(systemProbe(), packagesFor('drill'));
if (missing.length > 0) {
  process.stderr.write(`drill: ${missingMessage(missing)}\n`);
  process.exit(1);
}

const prefix = values.prefix;
if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) {
  process.stderr.write('drill: --prefix must be 1–8 lowercase letters or digits, starting with a letter\n');
  process.exit(2);
}
if (values.devices < 1 || values.devices > 10) {
  process.stderr.write('drill: --devices must be 1–10 (MAX_DEVICES_PER_USER)\n');
  process.exit(2);
}
if (!(values['device-share'] >= 0 && values['device-share'] <= 1)) {
  process.stderr.write('drill: --device-share must be between 0 and 1\n');
  process.exit(2);
}
const started = performance.now();
const drill = new Drill({
  prefix,
  clients: values.clients,
  devicesPerUser: values.devices,
  deviceShare: values['device-share'],
  v1Clients: values['v1-clients'],
  nodeEnv: Object.fromEntries(
    values['node-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  ),
  apps: Math.min(3, Math.max(2, values.apps)),
  maxFaults: values.faults,
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
const limitS = values['time-limit'];
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
    clients: values.clients,
    v1Clients: values['v1-clients'],
    devicesNote: `${Math.round(values['device-share'] * 100)} % of the users with ${values.devices}`,
    seconds: (performance.now() - started) / 1000,
  }),
);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
if (keep) say(`logs kept in ${drill.stateDir}`);
if (result.notes.length > 0) say(`\nNotes:\n${result.notes.map((n) => `  - ${n}`).join('\n')}`);
if (result.problems.length > 0) {
  say(`\nDRILL FAILED:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
say('\nDRILL PASSED');
process.exit(0);
