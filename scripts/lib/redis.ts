import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { spawnUntilReady, stopChild, type Placement } from './child.js';

function binary(): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin'])
    if (existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  throw new Error('redis-server not found: Redis is required (apt-get install redis-server)');
}

/** PEM files for a TLS-only Redis (`--tls-port`, plaintext port off). */
export interface RedisTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** Require client certificates signed by `ca`. @default false */
  readonly authClients?: boolean;
}

/** A private Redis on a free loopback port, no persistence; stop/resume keep the port. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly placement: Placement,
    readonly tls: RedisTlsFiles | undefined,
  ) {}

  /**
   * On loopback by default; `placement` runs it in a network namespace bound to that host's address;
   * `tls` makes the port TLS-only (the URL is then rediss://).
   */
  static async start(
    port?: number,
    placement: Placement = {},
    options: { readonly tls?: RedisTlsFiles } = {},
  ): Promise<RedisServer> {
    const server = new RedisServer(
      await mkdtemp(join(tmpdir(), 'parley-redis-')),
      port ?? (await freePort()),
      placement,
      options.tls,
    );
    await server.resume();
    return server;
  }

  /** The server's pid while it runs (for the benchmarks' CPU accounting). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://${this.placement.host ?? '127.0.0.1'}:${this.port}`;
  }

  async resume(): Promise<void> {
    this.child = await spawnUntilReady(
      binary(),
      [
        ...(this.tls
          ? ['--port', '0', '--tls-port', String(this.port)].concat(
              ['--tls-cert-file', this.tls.cert, '--tls-key-file', this.tls.key],
              ['--tls-ca-cert-file', this.tls.ca, '--tls-auth-clients', this.tls.authClients ? 'yes' : 'no'],
            )
          : ['--port', String(this.port)]),
        '--bind',
        this.placement.host ?? '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        '--protected-mode',
        'no',
        '--daemonize',
        'no',
      ],
      'Ready to accept connections',
      this.placement.netns,
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await stopChild(child, signal);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
