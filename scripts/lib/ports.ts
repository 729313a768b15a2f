import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP socket in LISTEN state, from /proc/net/tcp or /proc/net/tcp6 (this network namespace). */
export interface Listener {
  readonly address: string;
  readonly port: number;
  readonly uid: number;
  readonly inode: number;
}

/** A process holding a socket open. */
export interface SocketOwner {
  readonly pid: number;
  readonly command: string;
}

/** A port the cluster wants to bind, and what it is for (named in the refusal). */
export interface WantedPort {
  readonly host: string;
  /** 0: not needed this time (skipped). */
  readonly port: number;
  readonly what: string;
  /** What the user can do about it, appended to the refusal. */
  readonly hint?: string | undefined;
}

/** A port that cannot be used; the message names the port and, when visible, who holds it. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

const LISTEN = '0A';

/** `0100007F` → 127.0.0.1; a /proc/net/tcp6 address is four little-endian 32-bit words. */
function decodeAddress(hex: string): string {
  const bytes = (word: string) => [6, 4, 2, 0].map((i) => parseInt(word.slice(i, i + 2), 16));
  if (hex.length === 8) return bytes(hex).join('.');
  const all = [0, 8, 16, 24].flatMap((i) => bytes(hex.slice(i, i + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((all[i]! << 8) | all[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Every listening TCP socket of this network namespace (IPv4 and IPv6). */
export function tcpListeners(): Listener[] {
  const listeners: Listener[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      const [address, port] = fields[1]!.split(':') as [string, string];
      listeners.push({
        address: decodeAddress(address),
        port: parseInt(port, 16),
        uid: Number(fields[7]),
        inode: Number(fields[9]),
      });
    }
  }
  return listeners;
}

/**
 * The processes holding each socket inode open, found through /proc/PID/fd (only processes this user may
 * inspect: another user's holder stays unnamed unless we are root).
 */
export function socketOwners(inodes: ReadonlySet<number>): Map<number, SocketOwner[]> {
  const owners = new Map<number, SocketOwner[]>();
  if (inodes.size === 0) return owners;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode === undefined || !inodes.has(Number(inode))) continue;
      let command = '?';
      try {
        command = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      } catch {
        // gone meanwhile
      }
      const list = owners.get(Number(inode)) ?? [];
      if (!list.some((owner) => owner.pid === Number(entry))) list.push({ pid: Number(entry), command });
      owners.set(Number(inode), list);
    }
  }
  return owners;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Listeners on `port` whose address overlaps `host` (the same address, or either side a wildcard). */
export function listenersOn(port: number, host: string, listeners = tcpListeners()): Listener[] {
  return listeners.filter(
    (l) => l.port === port && (l.address === host || WILDCARDS.has(l.address) || WILDCARDS.has(host)),
  );
}

/** Binds host:port without SO_REUSEPORT and lets go: the error code when that fails, else undefined. */
export function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** "nginx (pids 10, 11)" / "node (pid 7)" / "a process of uid 0 (invisible to this user …)". */
export function describeHolders(port: number, listeners: readonly Listener[]): string {
  const owners = socketOwners(new Set(listeners.map((l) => l.inode)));
  const byCommand = new Map<string, Set<number>>();
  for (const list of owners.values())
    for (const owner of list)
      byCommand.set(owner.command, (byCommand.get(owner.command) ?? new Set()).add(owner.pid));
  const named = [...byCommand].map(([command, pids]) => {
    const sorted = [...pids].sort((a, b) => a - b);
    return `${command} (pid${sorted.length > 1 ? 's' : ''} ${sorted.join(', ')})`;
  });
  if (named.length > 0) return named.join(' and ');
  const uids = [...new Set(listeners.map((l) => l.uid))];
  if (uids.length > 0)
    return `a process of uid ${uids.join(', ')} that this user cannot inspect (sudo ss -ltnp 'sport = :${port}' names it)`;
  return 'another socket';
}

/**
 * Refuses (PortInUseError, one line) when any wanted port cannot be bound right now, naming the port, its
 * purpose and the process holding it. A trial bind without SO_REUSEPORT is the test: it fails even where
 * nginx's `reuseport` listener would silently share the port with another nginx.
 */
export async function assertPortsFree(wanted: readonly WantedPort[]): Promise<void> {
  for (const { host, port, what, hint } of wanted) {
    if (port === 0) continue;
    const failure = await tryBind(host, port);
    if (failure === undefined) continue;
    const listeners = listenersOn(port, host);
    const holder =
      failure === 'EADDRINUSE'
        ? `in use by ${describeHolders(port, listeners)}`
        : `not available (${failure})`;
    const where = listeners.map((l) => `${l.address.includes(':') ? `[${l.address}]` : l.address}:${port}`);
    throw new PortInUseError(
      `port ${port} (${what}) on ${host} is ${holder}${where.length > 0 ? `, listening on ${[...new Set(where)].join(', ')}` : ''}${hint ? `; ${hint}` : ''}`,
    );
  }
}

/**
 * After start-up: every listener on host:port must belong to one of `pids`. With `reuseport` another
 * process could have bound the same port between the check and the start; then clients would be split.
 */
export function assertSoleListener(host: string, port: number, pids: readonly number[], what: string): void {
  const listeners = listenersOn(port, host);
  const owners = socketOwners(new Set(listeners.map((l) => l.inode)));
  const mine = new Set(pids);
  const foreign = listeners.filter((l) => !(owners.get(l.inode) ?? []).some((o) => mine.has(o.pid)));
  if (foreign.length > 0) {
    throw new PortInUseError(
      `port ${port} (${what}) on ${host} is shared with ${describeHolders(port, foreign)}; clients would be split between them`,
    );
  }
}
