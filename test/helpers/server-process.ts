import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serverArgs } from '../../scripts/lib/server-command.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly chatPort: number;
  readonly adminPort: number;
  readonly output: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Runs the server (the on-demand build of `src/main.ts`) as a real process; resolves once it logged its listening ports. */
export function spawnServer(env: Record<string, string>, args: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, serverArgs([], args), {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      CHAT_HOST: '127.0.0.1',
      CHAT_PORT: '0',
      ADMIN_PORT: '0',
      BCRYPT_COST: '4',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"chat":"[^"]*:(\d+)","admin":"[^"]*:(\d+)"/.exec(output);
      if (match) {
        child.stdout.off('data', onData);
        child.stdout.on('data', (more: Buffer) => (output += more.toString()));
        resolve({
          child,
          chatPort: Number(match[1]),
          adminPort: Number(match[2]),
          output: () => output,
          exited,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

/** What a server process that ended on its own left behind. */
export interface ExitedServer {
  /** The exit code; null when it had to be killed (it did not exit within `killAfterMs`). */
  readonly code: number | null;
  readonly output: string;
  /** From spawn to exit. */
  readonly elapsedMs: number;
}

/**
 * Runs the server (the on-demand build of `src/main.ts`) expecting it to exit on its own; resolves with its code and output. A process still
 * running after `killAfterMs` is killed (code null), so a node that hangs fails the test instead of
 * stalling it.
 */
export function runServerToExit(
  env: Record<string, string>,
  args: string[] = [],
  killAfterMs = 20_000,
): Promise<ExitedServer> {
  const started = performance.now();
  const child = spawn(process.execPath, serverArgs([], args), {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', CHAT_PORT: '0', ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, output, elapsedMs: performance.now() - started });
    }),
  );
}

/** Holds a port on 127.0.0.1 so that a server binding it fails with EADDRINUSE. */
export async function occupyPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
