import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { killQuietly } from '../child.js';

const exec = promisify(execFile);

/** `ip …`; rejects with ip's own message. */
export async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args, { encoding: 'utf8' })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim() || String(error)}`);
  }
}

export interface HostSpec {
  /** Short name (≤ 8 characters): the namespace is `<prefix>-<name>`, the switch port `v-<name>`. */
  readonly name: string;
  readonly address: string;
}

/**
 * A private L2 network of "hosts" on this machine: one network namespace per host, each with an `eth0`
 * plugged into a bridge that lives in a switch namespace of its own. Nothing is created in the root
 * namespace, so several networks (distinct prefixes) can coexist with the same addresses.
 */
export class DrillNetwork {
  private constructor(
    readonly prefix: string,
    readonly hosts: readonly HostSpec[],
  ) {}

  /** Namespace of a host (or of the switch). */
  ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  private get switchNs(): string {
    return this.ns('sw');
  }

  static async create(prefix: string, hosts: readonly HostSpec[], prefixLength = 24): Promise<DrillNetwork> {
    const network = new DrillNetwork(prefix, hosts);
    const sw = network.switchNs;
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    for (const host of hosts) {
      const ns = network.ns(host.name);
      await ip('netns', 'add', ns);
      // New namespaces have lo down: 127.0.0.1 binds but connects fail (the health check would never pass).
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // The veth pair goes straight from the switch namespace into the host's.
      await ip(
        '-n',
        sw,
        'link',
        'add',
        `v-${host.name}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      );
      await ip('-n', sw, 'link', 'set', `v-${host.name}`, 'master', 'br0', 'up');
      await ip('-n', ns, 'addr', 'add', `${host.address}/${prefixLength}`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    return network;
  }

  /** Pulls a host's cable: no packets in or out, no RST, no FIN. */
  unplug(host: string): Promise<string> {
    return ip('-n', this.switchNs, 'link', 'set', `v-${host}`, 'down');
  }

  replug(host: string): Promise<string> {
    return ip('-n', this.switchNs, 'link', 'set', `v-${host}`, 'up');
  }

  /** The IPv4 addresses on a host's eth0. */
  async addresses(host: string): Promise<string[]> {
    const out = await ip('-n', this.ns(host), '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
  }

  /** Every process inside a host's namespace (nginx workers and keepalived children included). */
  async pids(host: string): Promise<number[]> {
    return (await ip('netns', 'pids', this.ns(host))).split('\n').filter(Boolean).map(Number);
  }

  /** Sets a sysctl inside one host only (net.* sysctls are per namespace). */
  async sysctl(host: string, key: string, value: string): Promise<void> {
    // /proc/sys/net shows the namespace of the process that opens it (no procps needed).
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    await ip('netns', 'exec', this.ns(host), 'sh', '-c', `echo ${value} > ${path}`);
  }

  /** Kills what is left in our namespaces and deletes them (the veths and bridge go with them). */
  async destroy(): Promise<void> {
    await removeNamespaces(this.prefix);
  }
}

/** Removes every namespace `<prefix>-*` and kills its processes (also leftovers of a crashed run). */
export async function removeNamespaces(prefix: string): Promise<void> {
  const list = await ip('netns', 'list').catch(() => '');
  const ours = list
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`${prefix}-`));
  for (const ns of ours) {
    const pids = (await ip('netns', 'pids', ns).catch(() => '')).split('\n').filter(Boolean).map(Number);
    for (const pid of pids) killQuietly(pid, 'SIGCONT');
    for (const pid of pids) killQuietly(pid, 'SIGKILL');
  }
  for (const ns of ours) await ip('netns', 'del', ns).catch(() => undefined);
}
