import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inNamespace, stopChild, type Placement } from './child.js';
import { serverArgs } from './server-command.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Lines of output a node keeps in memory for a death report. */
const RECENT_LINES = 20;
/** Longest line kept (a stack trace line or a JSON log line). */
const MAX_LINE_CHARS = 1000;

/** How a node's process ended; `expected` when stop() asked for it. */
export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly expected: boolean;
}

/**
 * One Parley node as a real process (the on-demand JavaScript build of `src/main.ts`, scripts/server-build.mjs) on fixed ports, so it can be killed and
 * started again behind the same nginx upstream. Output is appended to `logFile`.
 */
export class NodeProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private readonly exitListeners: ((exit: NodeExit) => void)[] = [];
  private recent: string[] = [];
  /** The process stop() is signalling (its exit is expected). */
  private stopping: ChildProcess | undefined;

  constructor(
    readonly nodeId: string,
    readonly chatPort: number,
    readonly adminPort: number,
    private readonly env: Readonly<Record<string, string>>,
    readonly logFile: string,
    /** Extra node flags, e.g. ['--cpu-prof'] for profiling. */
    private readonly nodeArgs: readonly string[] = [],
    /** A network namespace and the address to bind there (the drill's app hosts); default loopback. */
    readonly placement: Placement = {},
  ) {}

  get host(): string {
    return this.placement.host ?? '127.0.0.1';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the node; resolves when its /healthz answers 200. */
  start(): Promise<void> {
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    const [command, args] = inNamespace(this.placement.netns, process.execPath, serverArgs(this.nodeArgs));
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.env,
        NODE_ID: this.nodeId,
        CHAT_HOST: this.host,
        CHAT_PORT: String(this.chatPort),
        ADMIN_HOST: this.host,
        ADMIN_PORT: String(this.adminPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.recent = [];
    child.stderr.pipe(this.log, { end: false });
    child.stdout.pipe(this.log, { end: false });
    // Unfinished last line per stream (stdout and stderr are split into lines separately).
    const partial = { stdout: '', stderr: '' };
    const remember = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      const lines = (partial[stream] + chunk.toString()).split('\n');
      partial[stream] = lines.pop()!.slice(0, MAX_LINE_CHARS);
      for (const line of lines) this.keepLine(line);
    };
    child.stderr.on('data', (chunk: Buffer) => remember('stderr', chunk));
    child.stdout.on('data', (chunk: Buffer) => remember('stdout', chunk));
    // 'close' (not 'exit'): by then the last output was read, so a death report can show it.
    child.once('close', (code, signal) => {
      this.keepLine(partial.stdout);
      this.keepLine(partial.stderr);
      const exit = { code, signal, expected: this.stopping === child };
      for (const listener of this.exitListeners) listener(exit);
    });
    // Ready when /healthz answers 200 (independent of LOG_LEVEL), or failed when the process ends first.
    const exited = new Promise<never>((_, reject) =>
      child.once('close', (code, signal) => {
        const tail = this.recent.slice(-5).map((line) => `  | ${line}`);
        reject(
          new Error(
            [
              `node ${this.nodeId} exited (${code ?? signal}) before it was healthy; see ${this.logFile}`,
              ...tail,
            ].join('\n'),
          ),
        );
      }),
    );
    exited.catch(() => undefined);
    return Promise.race([this.waitHealthy(exited), exited]);
  }

  private async waitHealthy(exited: Promise<never>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.running) {
      if (await this.healthy()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!this.running) await exited;
    throw new Error(`node ${this.nodeId} not healthy after ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** Does /healthz answer 200? Asked from inside the node's network namespace when it has one. */
  async healthy(): Promise<boolean> {
    const url = `http://${this.host}:${this.adminPort}/healthz`;
    if (!this.placement.netns) {
      try {
        return (await fetch(url)).status === 200;
      } catch {
        return false;
      }
    }
    const probe = `fetch('${url}').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))`;
    const [command, args] = inNamespace(this.placement.netns, process.execPath, ['-e', probe]);
    return new Promise((resolve) =>
      spawn(command, args, { stdio: 'ignore' }).once('exit', (code) => resolve(code === 0)),
    );
  }

  /** Sends a signal and waits for the exit; SIGKILL is the crash case, SIGTERM a graceful drain. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.stopping = this.child;
    return stopChild(this.child, signal);
  }

  /** Called after every exit of the node's process, whether stop() asked for it or not. */
  onExit(listener: (exit: NodeExit) => void): void {
    this.exitListeners.push(listener);
  }

  /** The last lines the current (or last) process printed, oldest first. */
  recentOutput(): readonly string[] {
    return [...this.recent];
  }

  private keepLine(line: string): void {
    if (line.trim() === '') return;
    this.recent.push(line.slice(0, MAX_LINE_CHARS));
    if (this.recent.length > RECENT_LINES) this.recent.shift();
  }

  close(): void {
    this.log?.end();
    this.log = undefined;
  }
}
