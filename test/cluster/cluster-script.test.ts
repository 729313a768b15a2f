import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ClientError, ParleyClient } from '../../src/client/parley-client.js';
import { childPids } from '../../scripts/lib/child.js';
import { LocalCluster } from '../../scripts/lib/cluster.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { NginxServer } from '../../scripts/lib/nginx.js';
import { PortInUseError } from '../../scripts/lib/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function occupy(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Runs `fn` with os.tmpdir() pointing at a fresh private directory; returns what was left in it. */
async function inPrivateTmp(fn: () => Promise<void>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-refusal-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  const left = await readdir(dir);
  await rm(dir, { recursive: true, force: true });
  return left;
}

describe('npm run cluster refuses a port in use', () => {
  it('names the load-balancer port and the process holding it, and starts nothing', async () => {
    const port = await occupy();
    const childrenBefore = childPids(process.pid);
    let refusal: unknown;
    const left = await inPrivateTmp(async () => {
      refusal = await LocalCluster.start({ nodes: 1, port }).then(
        (cluster) => cluster.stop(),
        (error: unknown) => error,
      );
    });
    expect(refusal).toBeInstanceOf(PortInUseError);
    expect((refusal as Error).message).toMatch(
      new RegExp(`^port ${port} \\(load balancer\\) on 127\\.0\\.0\\.1 is in use by .*pid ${process.pid}`),
    );
    // No MariaDB, Redis, node or nginx was started, and no temp dir was made.
    expect(left).toEqual([]);
    expect(childPids(process.pid)).toEqual(childrenBefore);
  });

  it("refuses the port of another cluster's nginx, which `reuseport` would otherwise share silently", async () => {
    const port = await freePort();
    const other = await NginxServer.start({
      listen: `127.0.0.1:${port}`,
      chatBackends: [{ host: '127.0.0.1', port: await freePort() }],
      adminListen: `127.0.0.1:${await freePort()}`,
      adminBackends: [{ host: '127.0.0.1', port: await freePort() }],
      healthPort: await freePort(),
    });
    try {
      const refusal = await LocalCluster.start({ nodes: 1, port }).then(
        (cluster) => cluster.stop(),
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(PortInUseError);
      expect((refusal as Error).message).toMatch(
        new RegExp(`^port ${port} \\(load balancer\\) .* in use by nginx \\(pids? [^)]*${other.pid}`),
      );
    } finally {
      await other.destroy();
    }
  });

  it('as a script: one line on stderr naming the port and the holder, exit 1', async () => {
    const port = await occupy();
    const run = ScriptRun.start(['--nodes', '1', '--port', String(port)], {});
    expect(await run.exited).toBe(1);
    expect(run.stderr.trim()).toMatch(
      new RegExp(
        `^cluster: port ${port} \\(load balancer\\) on 127\\.0\\.0\\.1 is in use by .*pid ${process.pid}.*--port$`,
      ),
    );
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/** `node scripts/cluster.ts …` with its output collected. */
class ScriptRun {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(args: string[], env: Record<string, string>): ScriptRun {
    return new ScriptRun(
      spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', ...env },
      }),
    );
  }

  /** The first match of `pattern` in stdout (from `from` on), once it is there. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout.slice(from));
      if (match) return match;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`no ${String(pattern)} in the output:\n${this.stdout}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const wake = () => (clearTimeout(timer), resolve());
        const timer = setTimeout(() => (this.child.stdout.off('data', wake), resolve()), 500);
        this.child.stdout.once('data', wake);
      });
    }
  }
}

describe('npm run cluster passes settings on, reports dead nodes and keeps logs', () => {
  let run: ScriptRun | undefined;
  afterAll(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGINT');
      await run.exited;
    }
  });

  it('gives the nodes the Parley settings of its environment and --env (which wins)', async () => {
    run = ScriptRun.start(['--nodes', '2', '--port', '0', '--restart', '--env', 'MAX_MESSAGE_CHARS=10'], {
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
      MAX_MESSAGE_CHARS: '5000',
    });
    await run.waitFor(/Parley cluster is up\./);
    expect(run.stdout).toContain(
      'node settings: LOG_LEVEL (environment), BCRYPT_COST (environment), MAX_MESSAGE_CHARS (--env)',
    );
    const port = Number((await run.waitFor(/chat \(TCP JSON\)\s+127\.0\.0\.1:(\d+)/))[1]);
    const mysqlUrl = (await run.waitFor(/MySQL\s+(\S+)/))[1]!;
    const logs = (await run.waitFor(/logs\s+(\S+) \(kept after Ctrl-C\)/))[1]!;

    const name = `env-${Date.now() % 100000}`;
    const client = new ParleyClient({ host: '127.0.0.1', port, transport: 'tcp', device: 'test' });
    await client.connect();
    await client.register(name, 'pw');
    await client.login({ name }, 'pw');
    // MAX_MESSAGE_CHARS=10 from --env beats 5000 from the environment.
    const tooLong = await client.sendTo(client.user!.id, 'x'.repeat(11)).catch((error: unknown) => error);
    expect(tooLong).toBeInstanceOf(ClientError);
    expect((tooLong as ClientError).message).toContain('longer than 10 characters');
    client.close();

    // BCRYPT_COST=4 from the environment: the stored hash says cost 04.
    const db = await mysql.createConnection(mysqlUrl);
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT password FROM user WHERE name = ?', [name]);
    await db.end();
    expect(String(rows[0]?.password)).toMatch(/^\$2[aby]\$04\$/);

    // LOG_LEVEL=warn from the environment: no info line (such as "Parley listening") in the node logs.
    for (const file of ['node-1.log', 'node-2.log']) {
      const log = await readFile(join(logs, file), 'utf8');
      expect(log).not.toContain('Parley listening');
      expect(log).not.toContain('"level":30');
    }
  });

  it('reports a node that died with its exit and log, restarts it (--restart), and keeps the logs after Ctrl-C', async () => {
    expect(run).toBeDefined();
    const script = run!;
    const node = /node-1\s+chat 127\.0\.0\.1:\d+\s+admin http:\/\/127\.0\.0\.1:(\d+)\s+pid (\d+)/.exec(
      script.stdout,
    )!;
    const [adminPort, pid] = [Number(node[1]), Number(node[2])];
    const from = script.stdout.length;
    process.kill(pid, 'SIGKILL');
    const died = await script.waitFor(
      /node-1 \(pid (\d+)\) died: killed by SIGKILL\. Last log lines \(full log: (\S+)\):\n {2}\| /,
      from,
    );
    expect(Number(died[1])).toBe(pid);
    expect(died[2]).toMatch(/node-1\.log$/);
    await script.waitFor(/node-1: restarting in 1 s/, from);
    const restarted = await script.waitFor(/node-1 restarted \(pid (\d+)\)/, from);
    expect(Number(restarted[1])).not.toBe(pid);
    expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);

    const logs = /logs\s+(\S+) \(kept after Ctrl-C\)/.exec(script.stdout)![1]!;
    const pids = [...script.stdout.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    script.child.kill('SIGINT');
    expect(await script.exited).toBe(0);
    expect(script.stdout).toContain(`node logs kept in ${logs}`);
    expect((await readdir(logs)).sort()).toEqual(
      expect.arrayContaining(['nginx-error.log', 'node-1.log', 'node-2.log']),
    );
    // Every node process is gone.
    for (const nodePid of pids) expect(() => process.kill(nodePid, 0)).toThrow();
    await rm(logs, { recursive: true, force: true });
  });
});
