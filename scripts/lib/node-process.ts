import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stopChild } from './child.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * One Parley node as a real process (`src/main.ts` under tsx) on fixed ports, so it can be killed and
 * started again behind the same nginx upstream. Output is appended to `logFile`.
 */
export class NodeProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;

  constructor(
    readonly nodeId: string,
    readonly chatPort: number,
    readonly adminPort: number,
    private readonly env: Readonly<Record<string, string>>,
    readonly logFile: string,
    /** Extra node flags, e.g. ['--cpu-prof'] for profiling. */
    private readonly nodeArgs: readonly string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the node; resolves when its /healthz answers 200. */
  start(): Promise<void> {
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [...this.nodeArgs, '--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.env,
        NODE_ID: this.nodeId,
        CHAT_HOST: '127.0.0.1',
        CHAT_PORT: String(this.chatPort),
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(this.adminPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr.pipe(this.log, { end: false });
    child.stdout.pipe(this.log, { end: false });
    // Ready when /healthz answers 200 (independent of LOG_LEVEL), or failed when the process exits first.
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `node ${this.nodeId} exited (${code ?? signal}) before it was healthy; see ${this.logFile}`,
          ),
        ),
      ),
    );
    exited.catch(() => undefined);
    return Promise.race([this.waitHealthy(), exited]);
  }

  private async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.running) {
      try {
        const response = await fetch(`http://127.0.0.1:${this.adminPort}/healthz`);
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.running)
      throw new Error(`node ${this.nodeId} not healthy after ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** Sends a signal and waits for the exit; SIGKILL is the crash case, SIGTERM a graceful drain. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    return stopChild(this.child, signal);
  }

  close(): void {
    this.log?.end();
    this.log = undefined;
  }
}
