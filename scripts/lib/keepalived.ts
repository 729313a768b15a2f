import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inNamespace, stopChild } from './child.js';
import { renderTemplate } from './nginx.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/keepalived', import.meta.url));

export interface KeepalivedOptions {
  readonly routerId: string;
  readonly interface: string;
  readonly vip: string;
  readonly vrid: number;
  readonly priority: number;
  readonly unicastSrc: string;
  readonly unicastPeers: readonly string[];
  readonly authPass: string;
  readonly healthPort: number;
  /** Where the check and notify scripts are (keepalived refuses scripts under non-root-writable paths). */
  readonly scriptDir?: string;
  /** The notify hook's log file. @default /var/log/parley-keepalived.log */
  readonly notifyLog?: string;
}

export const CHECK_SCRIPT = `${DEPLOY}/check-nginx.sh`;
export const NOTIFY_SCRIPT = `${DEPLOY}/notify.sh`;

/** keepalived.conf for one LB host, rendered from deploy/keepalived/keepalived.conf.template. */
export function renderKeepalivedConfig(options: KeepalivedOptions): string {
  const scripts = options.scriptDir ?? DEPLOY;
  return renderTemplate(readFileSync(`${DEPLOY}/keepalived.conf.template`, 'utf8'), {
    ROUTER_ID: options.routerId,
    INTERFACE: options.interface,
    VIP: options.vip,
    VRID: String(options.vrid),
    PRIORITY: String(options.priority),
    UNICAST_SRC: options.unicastSrc,
    UNICAST_PEERS: options.unicastPeers.map((peer) => `        ${peer}`).join('\n'),
    AUTH_PASS: options.authPass,
    HEALTH_PORT: String(options.healthPort),
    CHECK_SCRIPT: join(scripts, 'check-nginx.sh'),
    NOTIFY_SCRIPT: join(scripts, 'notify.sh'),
    NOTIFY_LOG: options.notifyLog ?? '/var/log/parley-keepalived.log',
  });
}

/**
 * `keepalived -t` on a config file, inside a throwaway network namespace (`unshare -n`, root) that has a
 * veth interface of the given name, so the check sees a real interface without touching the host's.
 */
export function testKeepalivedConfig(file: string, iface = 'eth0'): { ok: boolean; output: string } {
  const script = `ip link add ${iface} type veth peer name ${iface}-peer && ip link set ${iface} up && exec keepalived -t -l -f '${file}'`;
  const result = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Log lines that mean keepalived is not doing its job although it runs (or exited 0). */
export const KEEPALIVED_TROUBLE =
  /Disabling track script|Unsafe permissions|daemon is already running|Couldn't setgroups|SECURITY VIOLATION/;

/**
 * One keepalived in the foreground inside a network namespace, with its own pid files and log
 * (`-n -l -D -G -P`): two on one machine must not share /run/keepalived.pid, or the second exits 0 at once.
 */
export class KeepalivedProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;

  constructor(
    readonly netns: string,
    readonly dir: string,
    private readonly options: KeepalivedOptions,
  ) {}

  get logFile(): string {
    return join(this.dir, 'keepalived.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts it; fails when keepalived exits or logs trouble within its first half second. */
  async start(): Promise<void> {
    const conf = join(this.dir, 'keepalived.conf');
    await writeFile(conf, renderKeepalivedConfig(this.options));
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    const [command, args] = inNamespace(this.netns, 'keepalived', [
      '-n', '-l', '-D', '-G', '-P',
      '-f', conf,
      '-p', join(this.dir, 'keepalived.pid'),
      '-r', join(this.dir, 'vrrp.pid'),
    ]); // prettier-ignore
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let output = '';
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (child.exitCode !== null || child.signalCode !== null || KEEPALIVED_TROUBLE.test(output))
      throw new Error(`keepalived in ${this.netns} is not working:\n${output}`);
  }

  /** SIGTERM is a clean stop (priority-0 advert, VIP released); waits for the exit before a restart. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    this.child = undefined;
    return stopChild(child, signal);
  }

  close(): void {
    this.log?.end();
    this.log = undefined;
  }
}
