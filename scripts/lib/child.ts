import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Signals a child and resolves with its exit code once it has exited (at once when it already has). */
export function stopChild(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child?.exitCode ?? null);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/**
 * Spawns a server and resolves once `readyText` appears on its stdout or stderr; rejects (with what it
 * printed) if it exits first. Output after that is drained and dropped.
 */
export function spawnUntilReady(
  command: string,
  args: readonly string[],
  readyText: string,
  netns?: string,
): Promise<ChildProcess> {
  const child = spawn(...inNamespace(netns, command, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (!log.includes(readyText)) return;
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited ${code} before it was ready:\n${log}`)));
  });
}

/**
 * The command line that runs `command` inside a network namespace (`ip netns exec`, root), or as is when
 * `netns` is undefined. `ip netns exec` execs in place, so the spawned pid is the command's own pid.
 */
export function inNamespace(
  netns: string | undefined,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, command, ...args]] : [command, [...args]];
}

/** Where a server runs: a network namespace and the address it binds (default: this host's loopback). */
export interface Placement {
  readonly netns?: string;
  readonly host?: string;
}

/**
 * The fields of /proc/PID/stat after the command name (which may contain spaces), so index 0 is field 3
 * (state), 1 the parent pid, 11 and 12 utime and stime; undefined when the process is gone.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Pids whose parent is `pid` (from /proc; no procps needed). */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(procStat(Number(entry))?.[1]) === pid)
    .map(Number);
}

/** SIGKILL, ignoring a process that is already gone. */
export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
