/**
 * Benchmark (not a test): one embedded Parley node in its own process, driven over loopback by many v2
 * clients. Prints delivered msgs/s, delivery latency percentiles, lost/duplicated/reordered counts, and the
 * time for every client to resume after all connections drop at once.
 *
 *   npm run bench:chat -- --clients 1000 --seconds 10 --inflight 2 --transport tcp
 */
import '../src/require-node.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOAD_TEST_LIMITS } from '../scripts/lib/load-test-env.js';
import { procStat } from '../scripts/lib/child.js';
import { serverArgs } from '../scripts/lib/server-command.js';
import { ParleyClient, type ChatMessage } from '../src/client/parley-client.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:chat',
  usage: 'npm run bench:chat -- [options]',
  summary: `Benchmark (not a test): one embedded Parley node in its own process, driven over loopback by many
v2 clients. Prints delivered msgs/s, delivery latency percentiles, lost/duplicated/reordered counts, and
the time for every client to resume after all connections drop at once. Needs no Debian package.`,
  options: {
    clients: { type: 'integer', default: 1000, description: 'clients' },
    seconds: { type: 'number', value: '<s>', default: 10, description: 'measured window' },
    inflight: { type: 'integer', default: 2, description: 'sends in flight per client' },
    transport: { type: 'string', value: '<tcp|ws>', default: 'tcp', description: 'client transport' },
    'login-concurrency': { type: 'integer', default: 100, description: 'logins in flight while connecting' },
    'bcrypt-cost': { type: 'integer', default: 4, description: "the server's BCRYPT_COST" },
    root: {
      type: 'string',
      value: '<dir>',
      default: '',
      description: 'checkout whose server to run (A/B against another build with the same harness)',
    },
    'server-node-args': {
      type: 'string',
      value: '"<flags>"',
      default: '',
      description: 'extra node flags for the server, e.g. "--cpu-prof"',
    },
  },
});
const clientCount = values.clients;
const seconds = values.seconds;
const inflight = values.inflight;
const transport = values.transport === 'ws' ? 'ws' : 'tcp';
const loginConcurrency = values['login-concurrency'];

async function startServer(): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const root = values.root || fileURLToPath(new URL('..', import.meta.url));
  const nodeArgs = values['server-node-args'].split(' ').filter(Boolean);
  const child = spawn(process.execPath, serverArgs(nodeArgs), {
    cwd: root,
    env: {
      ...process.env,
      ...LOAD_TEST_LIMITS,
      CHAT_HOST: '127.0.0.1',
      CHAT_PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'info',
      BCRYPT_COST: String(values['bcrypt-cost']),
      LOGIN_BURST: '1000',
      LOGIN_RATE_PER_S: '1000',
      SESSION_SECRET: 'bench-secret-0123456789',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"chat":"[^"]*:(\d+)"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function main(): Promise<void> {
  const server = await startServer();
  const clients = Array.from(
    { length: clientCount },
    () =>
      new ParleyClient({
        host: '127.0.0.1',
        port: server.port,
        transport,
        backoffMinMs: 50,
        backoffMaxMs: 2000,
        requestTimeoutMs: 60_000,
      }),
  );
  const loginStart = performance.now();
  await inBatches(clients, loginConcurrency, async (client) => {
    await client.connect();
    const name = `bench-${Math.random().toString(36).slice(2)}`;
    await client.register(name, 'pw');
    await client.login({ name }, 'pw');
  });
  const loginSeconds = (performance.now() - loginStart) / 1000;

  // Pairs: client i sends to client i^1. Each body carries the sender's counter and send time.
  const expectedNext = new Map<number, number>();
  let delivered = 0;
  let duplicates = 0;
  let reordered = 0;
  const latencies: number[] = [];
  let measuring = true;
  const sentBy = new Array<number>(clientCount).fill(0);
  for (const client of clients) {
    client.on('message', (m: ChatMessage) => {
      const [counter, sentAt] = m.msg.split(':').map(Number) as [number, number];
      const expected = expectedNext.get(m.from.id) ?? 0;
      if (counter < expected) duplicates++;
      else {
        if (counter > expected) reordered++;
        expectedNext.set(m.from.id, counter + 1);
      }
      delivered++;
      if (measuring) latencies.push(performance.now() - sentAt);
    });
  }
  const deadline = performance.now() + seconds * 1000;
  const chatStart = performance.now();
  const cpuStart = cpuMs(server.pid);
  const senders = clients.map(async (client, i) => {
    const peer = clients[i ^ 1]!.user!.id;
    const lanes = Array.from({ length: inflight }, async () => {
      while (performance.now() < deadline) {
        const n = sentBy[i]!++;
        await client.sendTo(peer, `${n}:${performance.now()}`);
      }
    });
    await Promise.all(lanes);
  });
  await Promise.all(senders);
  const chatSeconds = (performance.now() - chatStart) / 1000;
  const serverCpuMs = cpuMs(server.pid) - cpuStart;
  const totalSent = sentBy.reduce((a, b) => a + b, 0);
  // Drain: wait until every acked message arrived (bounded).
  const drainUntil = performance.now() + 10_000;
  while (delivered < totalSent && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  measuring = false;
  const sorted = Float64Array.from(latencies).sort();

  // Reconnect storm: every connection drops at once; time until all resumed.
  const stormStart = performance.now();
  await Promise.all(
    clients.map((client) => {
      const resumed = new Promise<void>((resolve) => client.once('resumed', () => resolve()));
      client.dropConnection();
      return resumed;
    }),
  );
  const stormSeconds = (performance.now() - stormStart) / 1000;

  for (const client of clients) client.close();
  await server.stop();
  const report = {
    transport,
    clients: clientCount,
    inflightPerSender: inflight,
    loginPerSecond: Math.round(clientCount / loginSeconds),
    sent: totalSent,
    delivered,
    lost: totalSent - delivered,
    duplicates,
    reordered,
    deliveredPerSecond: Math.round(delivered / chatSeconds),
    // The server's CPU (user + system) per delivered message over the chat window: steadier than a rate
    // on a machine whose speed moves, for comparing builds.
    serverCpuUsPerDelivered: Math.round(((serverCpuMs * 1000) / Math.max(delivered, 1)) * 100) / 100,
    latencyMs: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted.at(-1),
    },
    reconnectStormSeconds: stormSeconds,
  };
  console.log(
    JSON.stringify(
      report,
      (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(2)) : v),
      2,
    ),
  );
}

await main();

/** CPU time (user + system) a process has used so far, in ms (/proc, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = procStat(pid);
  return stat ? (Number(stat[11]) + Number(stat[12])) * 10 : NaN;
}
