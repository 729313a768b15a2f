import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';
import { spawnUntilReady, stopChild, type Placement } from './child.js';

function binary(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found: MariaDB is required for these tests (apt-get install mariadb-server)`);
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${output}`)),
    );
  });
}

/** PEM files for a MariaDB that requires TLS on TCP (`--require-secure-transport`; its socket stays plain). */
export interface MariaDbTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * A private MariaDB for tests: its own data directory under the OS temp dir, a free loopback port, root
 * without a password, nothing shared with a system MariaDB. Started with `start()`, stopped and restarted
 * on the same data for fault tests, removed with `destroy()`.
 */
export class MariaDb {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly placement: Placement,
    readonly tls: MariaDbTlsFiles | undefined,
  ) {}

  /** The server's pid while it runs (for the benchmarks' CPU accounting). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * On a free loopback port by default (or `port`, checked free by the caller); `placement` runs it in a
   * network namespace on that host's address; `tls` requires TLS on TCP.
   */
  static async start(
    placement: Placement = {},
    port?: number,
    options: { readonly tls?: MariaDbTlsFiles } = {},
  ): Promise<MariaDb> {
    const dir = await mkdtemp(join(tmpdir(), 'parley-mariadb-'));
    await run(binary('mariadb-install-db'), [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
    ]);
    const server = new MariaDb(
      dir,
      port ?? (placement.netns ? 3306 : await freePort()),
      placement,
      options.tls,
    );
    await server.resume();
    return server;
  }

  /** Base URL (no database) for the root user. */
  get url(): string {
    return `mysql://root@${this.placement.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Creates a fresh database and returns its MYSQL_URL (over the Unix socket when TCP needs TLS). */
  async createDatabase(prefix = 'parley'): Promise<string> {
    if (!this.tls) return createDatabase(this.url, prefix);
    const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
    await this.sql(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    return `${this.url}/${name}`;
  }

  /** Starts (again) on the same data directory and port; resolves when it accepts connections. */
  async resume(): Promise<void> {
    this.child = await spawnUntilReady(
      binary('mariadbd'),
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--socket=${join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        `--port=${this.port}`,
        `--bind-address=${this.placement.host ?? '127.0.0.1'}`,
        '--user=root',
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=64M',
        '--max-connections=500',
        // A node that vanishes inside a transaction (crash without RST, unplugged VM) would hold its row
        // locks until TCP notices, stalling every send to those users; roll it back after 5 s instead.
        // (docs/OPERATIONS.md recommends the same for production.)
        '--idle-transaction-timeout=5',
        ...(this.tls
          ? [
              `--ssl-cert=${this.tls.cert}`,
              `--ssl-key=${this.tls.key}`,
              `--ssl-ca=${this.tls.ca}`,
              '--require-secure-transport=ON',
            ]
          : []),
      ],
      'ready for connections',
      this.placement.netns,
    );
  }

  /** Runs SQL as root over the server's Unix socket (works from outside its network namespace). */
  sql(statements: string): Promise<void> {
    return run(binary('mariadb'), [
      '--no-defaults',
      `--socket=${join(this.dir, 'mysqld.sock')}`,
      '--user=root',
      '--execute',
      statements,
    ]);
  }

  /** Stops the server (clean shutdown); data stays for resume(). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await stopChild(child, 'SIGTERM');
  }

  /** Kills the server without a clean shutdown (crash recovery on resume). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await stopChild(child, 'SIGKILL');
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Creates a fresh database on the server at rootUrl (`mysql://root@host:port`) and returns its URL. */
export async function createDatabase(rootUrl: string, prefix = 'parley'): Promise<string> {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  const { hostname, port } = new URL(rootUrl);
  const connection = await mysql.createConnection({ host: hostname, port: Number(port), user: 'root' });
  try {
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await connection.end();
  }
  return `${rootUrl}/${name}`;
}
