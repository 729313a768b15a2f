import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { spawnUntilReady, stopChild } from './child.js';

function binary(): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin'])
    if (existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  throw new Error('redis-server not found: Redis is required (apt-get install redis-server)');
}

/** A private Redis on a free loopback port, no persistence; stop/resume keep the port. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(
      await mkdtemp(join(tmpdir(), 'parley-redis-')),
      port ?? (await freePort()),
    );
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    this.child = await spawnUntilReady(
      binary(),
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
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
