/**
 * Benchmark (not a test): what one idle logged-in connection costs a node. A one-node cluster (private
 * MariaDB and Redis, nginx in front, as `npm run cluster` runs it) is measured after a full GC with no
 * client, then with N idle logged-in clients: V8 heap used, external memory and RSS, per connection. With
 * --snapshot the two heap snapshots are compared and the objects that grew are listed by constructor.
 *
 *   npm run bench:idle-memory -- --clients 5000 --protocol v2 --transport tcp --snapshot
 *   npm run bench:idle-memory -- --clients 5000 --protocol v1
 *   npm run bench:idle-memory -- --clients 0   (the node's baseline only)
 *
 * The node runs with `--inspect` on a free loopback port: the GC, the memory readings and the snapshots
 * go through the inspector protocol, so the server needs no debug hook.
 */
import '../src/require-node.js';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { LocalCluster } from '../scripts/lib/cluster.js';
import { freePort } from '../scripts/lib/free-port.js';
import { LegacyTraffic } from '../scripts/lib/legacy-traffic.js';
import { BENCH_NODE_ENV } from '../scripts/lib/load-test-env.js';
import { Traffic } from '../scripts/lib/traffic.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'bench:idle-memory',
  usage: 'npm run bench:idle-memory -- [options]',
  summary: `Benchmark (not a test): heap and RSS of one node with no client and with N idle logged-in
clients (after a full GC, through the inspector), per connection; --snapshot lists what grew by
constructor. Needs mariadb-server, redis-server, nginx and libnginx-mod-stream.`,
  options: {
    clients: { type: 'integer', default: 5000, description: 'idle logged-in clients (even for v1)' },
    protocol: { type: 'string', value: '<v2|v1>', default: 'v2', description: 'client protocol' },
    transport: { type: 'string', value: '<tcp|ws>', default: 'tcp', description: 'v2 client transport' },
    snapshot: { type: 'boolean', description: 'compare heap snapshots by constructor' },
    depth: { type: 'integer', default: 1, description: 'with --owners: how many holders to name' },
    owners: { type: 'boolean', description: 'with --snapshot: split each constructor by what holds it' },
    top: { type: 'integer', default: 40, description: 'constructors listed with --snapshot' },
    settle: { type: 'number', value: '<s>', default: 3, description: 'idle time before measuring' },
    'node-args': { type: 'string', value: '"<flags>"', default: '', description: 'extra node flags' },
    'node-env': { type: 'string', multiple: true, value: '<KEY=VALUE>', description: 'node setting' },
  },
});

/** A minimal inspector-protocol client. */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private chunks: string[] = [];
  private scriptListener: ((id: number, url: string) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as {
        id?: number;
        method?: string;
        params?: { chunk?: string };
        result?: unknown;
        error?: unknown;
      };
      if (message.method === 'HeapProfiler.addHeapSnapshotChunk') this.chunks.push(message.params!.chunk!);
      if (message.method === 'Debugger.scriptParsed') {
        const { scriptId, url } = message.params as unknown as { scriptId: string; url: string };
        this.scriptListener?.(Number(scriptId), url);
      }
      if (message.id !== undefined) {
        if (message.error) throw new Error(JSON.stringify(message.error));
        this.pending.get(message.id)?.(message.result);
        this.pending.delete(message.id);
      }
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  async gc(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.call('HeapProfiler.collectGarbage');
  }

  async memory(): Promise<{
    heapUsed: number;
    external: number;
    arrayBuffers: number;
    spaces: Record<string, number>;
  }> {
    const expression = `JSON.stringify({ ...process.memoryUsage(), spaces: Object.fromEntries(
      process.getBuiltinModule('node:v8').getHeapSpaceStatistics()
        .map((s) => [s.space_name, s.physical_space_size])) })`;
    const result = (await this.call('Runtime.evaluate', { expression, returnByValue: true })) as {
      result: { value: string };
    };
    return JSON.parse(result.result.value) as {
      heapUsed: number;
      external: number;
      arrayBuffers: number;
      spaces: Record<string, number>;
    };
  }

  /** Script ids to file names (closures in snapshots are located by script id). */
  async scriptNames(): Promise<void> {
    this.scriptListener = (id, url) => scripts.set(id, url.replace(/^.*\/(src|node_modules)\//, '$1/'));
    await this.call('Debugger.enable');
    await this.call('Debugger.disable');
  }

  async snapshot(): Promise<Map<string, { count: number; size: number }>> {
    await this.scriptNames();
    this.chunks = [];
    await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    return summarise(JSON.parse(this.chunks.join('')) as HeapSnapshot);
  }

  close(): void {
    this.ws.close();
  }
}

/** Script id → file, for naming closures. */
const scripts = new Map<number, string>();

interface HeapSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
      location_fields: string[];
    };
  };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

/**
 * Self size and count per `type:name` (strings and code by type only), and with --owners per
 * `type:name <- owner` where the owner is the first object found holding it by a strong edge (an
 * anonymous closure is named by its script id and line).
 */
function summarise(heap: HeapSnapshot): Map<string, { count: number; size: number }> {
  const meta = heap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
    fields.indexOf(f),
  ) as [number, number, number, number];
  const count = heap.nodes.length / width;
  const where = new Map<number, string>();
  const locWidth = meta.location_fields.length;
  for (let i = 0; i < heap.locations.length; i += locWidth)
    where.set(
      heap.locations[i]! / width,
      `@${scripts.get(heap.locations[i + 1]!) ?? heap.locations[i + 1]}:${heap.locations[i + 2]! + 1}`,
    );
  const keyOf = (n: number): string => {
    const type = types[heap.nodes[n * width + typeAt]!]!;
    if (/string|code|number/.test(type)) return type;
    const name = heap.strings[heap.nodes[n * width + nameAt]!]!.slice(0, 50);
    return `${type}:${name}${type === 'closure' ? (where.get(n) ?? '') : ''}`;
  };
  let owner: Int32Array | undefined;
  if (values.owners) {
    owner = new Int32Array(count).fill(-1);
    const edgeWidth = meta.edge_fields.length;
    const edgeTypes = meta.edge_types[0];
    const [edgeTypeAt, toAt] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [
      number,
      number,
    ];
    let e = 0;
    for (let n = 0; n < count; n++) {
      const edges = heap.nodes[n * width + edgeCountAt]!;
      for (let k = 0; k < edges; k++, e += edgeWidth) {
        const type = edgeTypes[heap.edges[e + edgeTypeAt]!];
        if (type === 'weak' || type === 'shortcut') continue;
        const to = heap.edges[e + toAt]! / width;
        if (owner[to] === -1) owner[to] = n;
      }
    }
  }
  const byKey = new Map<string, { count: number; size: number }>();
  for (let n = 0; n < count; n++) {
    let key = keyOf(n);
    for (let o = owner?.[n] ?? -1, depth = 0; o >= 0 && depth < values.depth; o = owner![o]!, depth++)
      key += `  <-  ${keyOf(o)}`;
    const entry = byKey.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += heap.nodes[n * width + sizeAt]!;
    byKey.set(key, entry);
  }
  return byKey;
}

/** RSS by kind of mapping: the brk heap (glibc's main arena), anonymous mappings (V8 pages, other arenas), files. */
function rssByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = { brkHeap: 0, anon: 0, file: 0 };
  let kind = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1]!;
      kind = name === '[heap]' ? 'brkHeap' : name === '' || name.startsWith('[') ? 'anon' : 'file';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind]! += Number(rss[1]) * 1024;
  }
  return out;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

const v1 = values.protocol === 'v1';
if (!v1 && values.protocol !== 'v2') throw new Error('--protocol is v1 or v2');
const transport = values.transport === 'ws' ? 'ws' : 'tcp';
const inspectPort = await freePort();
const nodeEnv = Object.fromEntries((values['node-env'] ?? []).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
const cluster = await LocalCluster.start({
  nodes: 1,
  port: 0,
  nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`, ...values['node-args'].split(' ').filter(Boolean)],
  env: {
    ...BENCH_NODE_ENV,
    ...nodeEnv,
  },
});
const close: (() => void)[] = [];
try {
  const pid = cluster.nodes[0]!.pid!;
  const inspector = await Inspector.connect(inspectPort);
  close.push(() => inspector.close());
  const measure = async () => {
    await inspector.gc();
    const memory = await inspector.memory();
    return { ...memory, rss: rssBytes(pid), maps: rssByMapping(pid) };
  };
  // The baseline after one login and logout, so code paths every login loads are not counted per client.
  const warm = new Traffic({ host: '127.0.0.1', port: cluster.port, clients: 2, transport });
  await warm.connect();
  warm.close();
  await new Promise((resolve) => setTimeout(resolve, values.settle * 1000));
  const before = await measure();
  const snapBefore = values.snapshot ? await inspector.snapshot() : undefined;
  const n = values.clients;
  const started = performance.now();
  if (v1) {
    const legacy = new LegacyTraffic({
      host: '127.0.0.1',
      port: cluster.port,
      clients: n,
      loginConcurrency: 64,
    });
    await legacy.connect();
    close.push(() => legacy.close());
  } else if (n > 0) {
    const traffic = new Traffic({
      host: '127.0.0.1',
      port: cluster.port,
      clients: n,
      transport,
      loginConcurrency: 64,
    });
    await traffic.connect();
    close.push(() => traffic.close());
  }
  const loginS = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, values.settle * 1000));
  const after = await measure();
  const snapAfter = values.snapshot ? await inspector.snapshot() : undefined;
  const kb = (bytes: number) => Math.round((bytes / 1024 / Math.max(n, 1)) * 100) / 100;
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  console.log(
    JSON.stringify(
      {
        clients: n,
        protocol: v1 ? 'v1' : `v2/${transport}`,
        loginS: Math.round(loginS * 10) / 10,
        baselineMB: { rss: mb(before.rss), heapUsed: mb(before.heapUsed), external: mb(before.external) },
        withClientsMB: { rss: mb(after.rss), heapUsed: mb(after.heapUsed), external: mb(after.external) },
        rssByMappingMB: Object.fromEntries(
          Object.entries(after.maps).map(([k, v]) => [k, `${mb(before.maps[k] ?? 0)} -> ${mb(v)}`]),
        ),
        spacesMB: Object.fromEntries(
          Object.entries(after.spaces).map(([k, v]) => [k, `${mb(before.spaces[k] ?? 0)} -> ${mb(v)}`]),
        ),
        perConnectionKB: {
          heapUsed: kb(after.heapUsed - before.heapUsed),
          external: kb(after.external - before.external),
          rss: kb(after.rss - before.rss),
        },
      },
      null,
      2,
    ),
  );
  if (snapBefore && snapAfter) {
    const rows = [...snapAfter].map(([key, a]) => {
      const b = snapBefore.get(key) ?? { count: 0, size: 0 };
      return { key, count: a.count - b.count, bytes: a.size - b.size };
    });
    rows.sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log(`heap snapshot growth: ${kb(total)} KB per connection (self sizes)`);
    for (const row of rows.slice(0, values.top))
      console.log(
        `${String(Math.round((row.bytes / Math.max(n, 1)) * 10) / 10).padStart(8)} B/conn ${(row.count / Math.max(n, 1)).toFixed(2).padStart(7)} /conn  ${row.key}`,
      );
  }
} finally {
  for (const fn of close) fn();
  await cluster.stop();
}
