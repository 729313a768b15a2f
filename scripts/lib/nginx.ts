import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, inNamespace, killQuietly, stopChild } from './child.js';

const CHECK_SCRIPT = fileURLToPath(new URL('../../deploy/keepalived/check-nginx.sh', import.meta.url));

const TEMPLATES = fileURLToPath(new URL('../../deploy/nginx', import.meta.url));
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export interface Backend {
  readonly host: string;
  readonly port: number;
}

/** The TLS listener of the stream load balancer (deploy/nginx/parley-stream-tls.conf.template). */
export interface NginxTlsListener {
  /** `host:port` of the TLS listener (8443 in production). */
  readonly listen: string;
  /** PEM certificate (chain) and key paths. */
  readonly cert: string;
  readonly key: string;
}

export interface NginxOptions {
  readonly listen: string;
  /** Also terminate TLS for clients on this listener. @default none */
  readonly tls?: NginxTlsListener | undefined;
  readonly chatBackends: readonly Backend[];
  readonly adminListen: string;
  readonly adminBackends: readonly Backend[];
  /** Port of nginx's own health endpoint on 127.0.0.1 (probed by keepalived's check script). */
  readonly healthPort: number;
  /** TCP keep-alive towards clients, `idle:interval:count`. @default 30s:5s:3 */
  readonly soKeepalive?: string;
  /** nginx `limit_conn` per client address on the chat listener (the first line against hogging). @default 1000 */
  readonly limitConnPerIp?: number;
  /** Run inside this network namespace (the drill's LB hosts). */
  readonly netns?: string;
}

export function nginxBinary(): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/nginx/sbin'])
    if (existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  throw new Error('nginx not found (apt-get install nginx libnginx-mod-stream)');
}

/** Fills `{{NAME}}` placeholders; an unknown placeholder left over is an error. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const out = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template value ${name} missing`);
    return value;
  });
  return out;
}

const serverLines = (backends: readonly Backend[]) =>
  backends.map((b) => `    server ${b.host}:${b.port} max_fails=2 fail_timeout=5s;`).join('\n');

/** Writes nginx.conf + the two Parley blocks into `prefix`, rendered from deploy/nginx. */
export async function renderNginxConfig(
  prefix: string,
  options: NginxOptions,
  daemon = false,
): Promise<string> {
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  const read = (name: string) => readFile(join(TEMPLATES, name), 'utf8');
  const builtInStream = spawnSync(nginxBinary(), ['-V'], { encoding: 'utf8' }).stderr.includes(
    '--with-stream ',
  );
  const values = {
    PREFIX: prefix,
    LISTEN: options.listen,
    UPSTREAM_SERVERS: serverLines(options.chatBackends),
    ADMIN_LISTEN: options.adminListen,
    ADMIN_UPSTREAM_SERVERS: serverLines(options.adminBackends),
    LOAD_MODULE: builtInStream || !existsSync(STREAM_MODULE) ? '' : `load_module ${STREAM_MODULE};`,
    DAEMON: daemon ? '' : 'daemon off;',
    HEALTH_PORT: String(options.healthPort),
    SO_KEEPALIVE: options.soKeepalive ?? '30s:5s:3',
    LIMIT_CONN_PER_IP: String(options.limitConnPerIp ?? 1000),
  };
  await writeFile(
    join(prefix, 'parley-stream.conf'),
    renderTemplate(await read('parley-stream.conf.template'), values),
  );
  await writeFile(
    join(prefix, 'parley-stream-tls.conf'),
    options.tls === undefined
      ? '# No TLS listener: this load balancer terminates no TLS.\n'
      : renderTemplate(await read('parley-stream-tls.conf.template'), {
          ...values,
          TLS_LISTEN: options.tls.listen,
          TLS_CERT: options.tls.cert,
          TLS_KEY: options.tls.key,
        }),
  );
  await writeFile(
    join(prefix, 'parley-admin-http.conf'),
    renderTemplate(await read('parley-admin-http.conf.template'), values),
  );
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, renderTemplate(await read('nginx.conf.template'), values));
  return conf;
}

/** `nginx -t` on a rendered config: ok, and nginx's own words. */
export function testNginxConfig(
  prefix: string,
  conf: string,
  netns?: string,
): { ok: boolean; output: string } {
  const result = spawnSync(...inNamespace(netns, nginxBinary(), ['-t', '-p', prefix, '-c', conf]), {
    encoding: 'utf8',
  });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Resolves once something accepts TCP connections on host:port (or rejects after timeoutMs). */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An nginx process with its own prefix directory (config, pid, logs). */
export class NginxServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly prefix: string,
    readonly conf: string,
    private readonly options: NginxOptions,
  ) {}

  static async start(options: NginxOptions): Promise<NginxServer> {
    const prefix = await mkdtemp(join(tmpdir(), 'parley-nginx-'));
    const conf = await renderNginxConfig(prefix, options);
    const test = testNginxConfig(prefix, conf, options.netns);
    if (!test.ok) throw new Error(`nginx -t failed:\n${test.output}`);
    const server = new NginxServer(prefix, conf, options);
    await server.resume();
    return server;
  }

  /** nginx's own health endpoint (for keepalived's check script). */
  get healthPort(): number {
    return this.options.healthPort;
  }

  async resume(): Promise<void> {
    const child = spawn(
      ...inNamespace(this.options.netns, nginxBinary(), ['-p', this.prefix, '-c', this.conf]),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.child = child;
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`nginx exited ${code}: ${log}`))),
    );
    const [host, port] = splitListen(this.options.listen);
    // In a namespace, ready means the health endpoint answers there (what keepalived's check sees).
    const ready = this.options.netns ? this.waitHealthy() : waitForPort(host, port);
    await Promise.race([ready, exited]);
    exited.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Does the health endpoint answer, as seen by keepalived's check script in nginx's namespace? */
  healthy(): boolean {
    const [command, args] = inNamespace(this.options.netns, 'bash', [CHECK_SCRIPT, String(this.healthPort)]);
    return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
  }

  private async waitHealthy(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.healthy()) {
      if (Date.now() > deadline)
        throw new Error(`nginx in ${this.options.netns} not healthy after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * A crash: SIGKILL to the master and its workers. (Killing only the master leaves the workers serving,
   * and the health check passing.)
   */
  async crash(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    // Master first: a master that outlives its workers by a moment respawns them, and the new worker
    // keeps the listeners (and the health check) alive. So list the workers, kill the master, then them.
    const workers = childPids(child.pid);
    const exited = this.stop('SIGKILL');
    for (const pid of workers) killQuietly(pid);
    await exited;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    // SIGQUIT is nginx's graceful stop; SIGTERM stops at once.
    await stopChild(child, signal);
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (!process.env.PARLEY_KEEP_LOGS) await rm(this.prefix, { recursive: true, force: true });
  }
}

function splitListen(listen: string): [string, number] {
  const colon = listen.lastIndexOf(':');
  return colon === -1
    ? ['127.0.0.1', Number(listen)]
    : [listen.slice(0, colon), Number(listen.slice(colon + 1))];
}
