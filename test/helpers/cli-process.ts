import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { locate, systemProbe } from '../../scripts/lib/debian-packages.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'bin/parley-client.mjs';

/** A running parley-client whose output can be awaited line by line (or as raw terminal text). */
export class CliProcess {
  output = '';
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const wake of this.waiters.splice(0)) wake();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Scripted or plain: `node bin/parley-client.mjs …` with pipes. */
  static run(args: string[], env: Record<string, string> = {}): CliProcess {
    return new CliProcess(
      spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } }),
    );
  }

  /** Interactive: inside a pseudo-terminal made by script(1), so the client sees a TTY. */
  static inTerminal(args: string[], env: Record<string, string> = {}): CliProcess {
    if (locate('script', systemProbe()) === undefined)
      throw new Error('script(1) not found: apt-get install bsdutils (npm test installs it)');
    const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
    return new CliProcess(
      spawn('script', ['-qfec', `stty cols 200; ${command}`, '/dev/null'], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', TERM: 'xterm-256color', ...env },
      }),
    );
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  /** Resolves when the output (from `from` on) contains the text; returns the index just after it. */
  async waitFor(text: string | RegExp, from = 0, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.output.slice(from);
      const index = typeof text === 'string' ? rest.indexOf(text) : rest.search(text);
      if (index !== -1) return from + index + (typeof text === 'string' ? text.length : 1);
      if (Date.now() > deadline)
        throw new Error(`did not see ${String(text)} within ${timeoutMs} ms; output:\n${this.output}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
