/**
 * Benchmark (not a test): the KV admin plane. wrk against POST /api/kv (random-key HSET, per-engine
 * GET/SET mixes, 1/50/200 connections, keep-alive and Connection: close, pipelined), then the engines
 * in-process at 10k/100k/500k keys. Needs wrk (apt-get install wrk).
 *
 *   npm run bench:kv -- --seconds 10 --sustained 30
 *   ADMIN_FAST_LANE=off npm run bench:kv -- --only "keep-alive" --skip-engines   (Node's http only)
 */
import '../src/require-node.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverArgs } from '../scripts/lib/server-command.js';
import { ArrayEngine } from '../src/kv/array-engine.js';
import { HashEngine } from '../src/kv/hash-engine.js';
import type { KvEngine } from '../src/kv/kv-engine.js';
import { RbTreeEngine } from '../src/kv/rbtree-engine.js';
import { costPer, ProcessCost } from './lib/process-cost.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:kv',
  usage: 'npm run bench:kv -- [options]',
  summary: `Benchmark (not a test): the KV admin plane. wrk against POST /api/kv (random-key HSET, per-engine
GET/SET mixes, 1/50/200 connections, keep-alive and Connection: close, pipelined), then the engines
in-process at 10k/100k/500k keys. Needs wrk (apt-get install wrk).`,
  options: {
    seconds: { type: 'number', value: '<s>', default: 10, description: 'each wrk run' },
    sustained: { type: 'number', value: '<s>', default: 30, description: 'the sustained HSET run' },
    warmup: {
      type: 'number',
      value: '<s>',
      default: 3,
      description: 'read-only load on each fresh node before measuring (warm JIT)',
    },
    'skip-http': { type: 'boolean', description: 'only the in-process engine runs' },
    'skip-engines': { type: 'boolean', description: 'only the HTTP runs' },
    only: {
      type: 'string',
      value: '<text>',
      description: 'only the HTTP runs whose label contains this text, e.g. "HSET random keys, keep-alive"',
    },
  },
});

const LUA = `
local cmd, keyspace, close, depth, mix = "HSET", 100000, false, 1, false
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  cmd = args[1] or cmd
  keyspace = tonumber(args[2] or keyspace)
  close = args[3] == "close"
  depth = tonumber(args[4] or 1)
  mix = args[5] == "mix"
  if close then headers["Connection"] = "close" end
end
local ops = { "SET", "GET", "MOD", "DEL", "EXIST" }
local function one()
  local c = cmd
  if mix then c = cmd .. ops[math.random(1, #ops)] end
  local key = "k" .. math.random(1, keyspace)
  return wrk.format("POST", "/api/kv", headers, '{"cmd":"' .. c .. '","key":"' .. key .. '","value":"v"}')
end
request = function()
  if depth == 1 then return one() end
  local batch = {}
  for i = 1, depth do batch[i] = one() end
  return table.concat(batch)
end
`;

interface WrkResult {
  rps: number;
  p50: string;
  p99: string;
  errors: string;
  seconds: number;
}

function wrk(port: number, script: string, connections: number, seconds: number, args: string[]): WrkResult {
  const threads = Math.min(2, connections);
  const result = spawnSync(
    'wrk',
    [
      `-t${threads}`,
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-s',
      script,
      `http://127.0.0.1:${port}`,
      '--',
      ...args,
    ],
    { encoding: 'utf8' },
  );
  const out = result.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const errors =
    [/Socket errors:[^\n]*/.exec(out)?.[0], /Non-2xx[^\n]*/.exec(out)?.[0]].filter(Boolean).join('; ') ||
    'none';
  return { seconds, rps: Math.round(rps), p50, p99, errors };
}

/**
 * Runs wrk against a server process and adds what that process spent per request: CPU time and, where
 * `perf` works, instructions (user + kernel) — steadier than req/s on a shared VM.
 */
async function measured(
  pid: number | undefined,
  load: () => WrkResult,
): Promise<WrkResult & { serverPerRequest?: string }> {
  const cost = ProcessCost.start({ server: pid === undefined ? [] : [pid] });
  const result = load();
  const costs = await cost.stop();
  const requests = result.rps * result.seconds;
  return requests > 0 ? { ...result, serverPerRequest: costPer(costs, requests).server } : result;
}

async function startNode(): Promise<{ port: number; pid: number | undefined; stop: () => Promise<void> }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, serverArgs(), {
    cwd: root,
    env: { ...process.env, CHAT_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /"admin":"[^"]*:(\d+)"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
  });
  return {
    port,
    pid: child.pid,
    stop: () => new Promise((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM'))),
  };
}

const CEILING_SERVER = `
const reply = (close) => {
  const body = '{"status":"OK","message":"Set successfully","data":' + '{"status":"OK","data":{"array":{"count":0,"max":524288,"remaining":524288},"hash":{"count":1,"max":131072,"remaining":131071},"rbtree":{"count":0,"max":524288,"remaining":524288}}}}';
  return 'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\nAccess-Control-Allow-Origin: *\\r\\nConnection: ' + (close ? 'close' : 'keep-alive') + '\\r\\n\\r\\n' + body;
};
const server = require('node:net').createServer((socket) => {
  let pending = '';
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    pending += chunk.toString('latin1');
    let out = '';
    for (;;) {
      const end = pending.indexOf('\\r\\n\\r\\n');
      if (end < 0) break;
      const head = pending.slice(0, end);
      const length = Number(/content-length: *(\\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) break;
      pending = pending.slice(end + 4 + length);
      const close = /connection: *close/i.test(head);
      out += reply(close);
      if (close) return socket.end(out);
    }
    if (out) socket.write(out);
  });
}).listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function withCeilingServer<T>(
  measure: (port: number, pid: number | undefined) => Promise<T>,
): Promise<T> {
  const child = spawn(process.execPath, ['-e', CEILING_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  try {
    return await measure(port, child.pid);
  } finally {
    child.kill();
  }
}

if (!values['skip-http']) {
  if (spawnSync('wrk', ['--version']).error) {
    console.error('wrk not found: apt-get install wrk');
    process.exit(1);
  }
  const script = join(mkdtempSync(join(tmpdir(), 'parley-wrk-')), 'kv.lua');
  writeFileSync(script, LUA);
  const seconds = values.seconds;
  const rows: Record<string, unknown>[] = [];
  const run = async (label: string, connections: number, args: string[], duration = seconds) => {
    if (values.only !== undefined && !label.includes(values.only)) return;
    const node = await startNode(); // fresh node per run, like the seed's measurements
    const warmup = values.warmup;
    if (warmup > 0) wrk(node.port, script, connections, warmup, ['HEXIST', '100000']);
    rows.push({
      run: label,
      conns: connections,
      ...(await measured(node.pid, () => wrk(node.port, script, connections, duration, args))),
    });
    await node.stop();
  };
  for (const c of [1, 50, 200]) await run('HSET random keys, keep-alive', c, ['HSET', '100000']);
  await run('HSET random keys, keep-alive (sustained)', 50, ['HSET', '100000'], values.sustained);
  for (const c of [1, 50, 200])
    await run('HSET random keys, Connection: close', c, ['HSET', '100000', 'close']);
  await run('SET (array) random keys, keep-alive', 50, ['SET', '100000']);
  await run('RSET random keys, keep-alive', 50, ['RSET', '100000']);
  for (const family of ['', 'H', 'R'])
    await run(`${family || 'array '}mix SET/GET/MOD/DEL/EXIST over 100 keys`, 50, [
      family,
      '100',
      'keep',
      '1',
      'mix',
    ]);
  await run('HSET pipelined ×16, keep-alive', 50, ['HSET', '100000', 'keep', '16']);
  // The machine's ceiling for this load: a bare `net` server that answers every request with a fixed
  // reply of the same size, parsing nothing. What Parley loses against it is its own cost.
  for (const mode of ['keep', 'close']) {
    const label = `ceiling: bare node:net server, fixed reply, ${mode === 'keep' ? 'keep-alive' : 'Connection: close'}`;
    if (values.only !== undefined && !label.includes(values.only)) continue;
    rows.push({
      run: label,
      conns: 50,
      ...(await withCeilingServer((port, pid) => {
        wrk(port, script, 50, values.warmup, ['HEXIST', '100000']);
        return measured(pid, () => wrk(port, script, 50, seconds, ['HSET', '100000', mode]));
      })),
    });
  }
  console.table(rows);
}

if (values['skip-engines']) process.exit(0);

// In-process engine operations.
function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}
const engineRows: Record<string, unknown>[] = [];
for (const n of [10_000, 100_000, 500_000]) {
  for (const make of [
    () => new HashEngine(n),
    () => new RbTreeEngine(n),
    () => new ArrayEngine(n),
  ] as (() => KvEngine)[]) {
    const engine = make();
    // The linear array is O(n) per operation by design: 100k+ keys would take minutes, so it stops at 10k.
    if (engine.name === 'array' && n > 10_000) continue;
    const keys = Array.from({ length: n }, (_, i) => `key:${(i * 2654435761) % 4294967296}`);
    const setMs = time(() => keys.forEach((k) => engine.set(k, 'v')));
    const getMs = time(() => keys.forEach((k) => engine.get(k)));
    const delMs = time(() => keys.forEach((k) => engine.delete(k)));
    engineRows.push({
      engine: engine.name,
      keys: n,
      setOpsPerS: Math.round(n / (setMs / 1000)),
      getOpsPerS: Math.round(n / (getMs / 1000)),
      delOpsPerS: Math.round(n / (delMs / 1000)),
    });
  }
}
console.table(engineRows);
