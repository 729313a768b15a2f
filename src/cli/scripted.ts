import { createInterface } from 'node:readline';
import { ClientError, ParleyClient, type ChatMessage } from '../client/parley-client.js';
import { parseCommand } from './commands.js';
import { connectFailure, deviceOf, endpointOf, identity, type CliOptions } from './options.js';
import { formatMessage, formatOwnMessage, makePaint } from './render.js';
import { runCommand } from './run-command.js';

/**
 * Scripted mode: log in, run commands one per line, print one event per line (text or JSON lines).
 * Resolves with the exit code: 0 when every command succeeded, 1 at the first failure (named on stderr).
 */
export async function runScripted(
  options: CliOptions,
  input: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const paint = makePaint(false);
  const emit = (event: Record<string, unknown>, text: string) =>
    out.write(`${options.json ? JSON.stringify(event) : text}\n`);
  const fail = (message: string) => {
    err.write(`parley-client: ${message}\n`);
    return 1;
  };
  if (!options.user || !options.password)
    return fail('scripted mode needs --user and a password (--password or PARLEY_PASSWORD)');

  const client = new ParleyClient({
    ...endpointOf(options),
    ...deviceOf(options),
    requestTimeoutMs: options.timeoutMs,
  });
  let received = 0;
  let waiters: (() => void)[] = [];
  // Messages pushed right after the login reply come in the same read, before the login promise resumes
  // us: they wait here so the login line is always printed first.
  let held: ChatMessage[] | undefined = [];
  const show = (message: ChatMessage): void => {
    received++;
    const text = message.own
      ? formatOwnMessage(message, message.toid === undefined ? '' : `[${message.toid}]`, paint)
      : formatMessage(message, paint);
    emit({ event: 'message', ...message }, `message ${text}`);
    for (const wake of waiters.splice(0)) wake();
  };
  client.on('message', (message: ChatMessage) => {
    // This script's own sends were printed as `sent`; their echoes (several devices online) are not news.
    if (message.echoOfOwnSend) return;
    if (held) held.push(message);
    else show(message);
  });
  client.on('presence', (p) =>
    emit(
      { event: 'presence', ...p },
      `presence ${p.id} ${p.state}${p.lastSeen === null ? '' : ` ${p.lastSeen}`}`,
    ),
  );
  client.on('typing', (t) =>
    emit(
      { event: 'typing', from: t.from, ...t.target, state: t.state },
      `typing ${t.from} ${'groupid' in t.target ? `g:${t.target.groupid} ` : ''}${t.state}`,
    ),
  );
  client.on('read', (r) =>
    emit(
      { event: 'read', kind: r.kind, reader: r.reader, ...r.target, upTo: r.upTo },
      `read ${r.kind} ${r.reader} ${'groupid' in r.target ? `g:${r.target.groupid}` : r.target.with} ${r.upTo}`,
    ),
  );
  client.on('reconnecting', () => emit({ event: 'reconnecting' }, 'reconnecting'));
  client.on('resumed', () => emit({ event: 'resumed' }, 'resumed'));
  let ended: string | undefined;
  let onEnded: () => void = () => {};
  // Resolves when the session ends, so a script idle on stdin stops at once instead of at its next line.
  const endedSignal = new Promise<void>((resolve) => (onEnded = resolve));
  const end = (reason: string) => {
    ended = reason;
    for (const wake of waiters.splice(0)) wake();
    onEnded();
  };
  client.on('kicked', (_by, everywhere) => {
    const why = everywhere ? 'this account logged out on every device' : 'this account logged in elsewhere';
    emit({ event: 'kicked', everywhere: everywhere === true }, `kicked: ${why}`);
    end(`${why} (KICKED)`);
  });
  client.on('session-lost', () => end('the session could not be resumed (TOKEN_INVALID)'));

  try {
    await client.connect();
  } catch (error) {
    return fail(connectFailure(options, error));
  }
  try {
    const who = identity(options.user);
    if (options.register && 'name' in who) {
      await client.register(who.name, options.password).catch((error: unknown) => {
        if (!(error instanceof ClientError && error.code === 'USER_EXISTS')) throw error;
      });
    }
    const user = await client.login(who, options.password);
    emit({ event: 'login', ...user, node: client.node }, `login ok id=${user.id} name=${user.name}`);
    const waiting = held;
    held = undefined;
    for (const message of waiting) show(message);

    const lines = options.exec !== undefined ? options.exec.split(';')[Symbol.iterator]() : readLines(input);
    for (;;) {
      const next = await Promise.race([lines.next(), endedSignal.then(() => undefined)]);
      if (next === undefined) return fail(ended!);
      if (next.done) break;
      const line = next.value.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parsed = parseCommand(line);
      if (!parsed.ok) return fail(parsed.error);
      const { command } = parsed;
      if (command.kind === 'quit') break;
      if (command.kind === 'sleep') {
        await new Promise((resolve) => setTimeout(resolve, command.ms));
        continue;
      }
      if (command.kind === 'wait') {
        // wait:N — until N messages have arrived since login (offline ones included), or the timeout.
        const deadline = Date.now() + options.timeoutMs;
        while (received < command.count && ended === undefined && Date.now() < deadline) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
            waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        if (ended !== undefined) return fail(ended);
        if (received < command.count)
          return fail(`wait:${command.count} timed out after ${options.timeoutMs} ms (${received} received)`);
        continue;
      }
      if (ended !== undefined) return fail(ended);
      const outcome = await runCommand(client, command, paint);
      emit(outcome.event, outcome.lines.join('\n'));
    }
    return 0;
  } catch (error) {
    if (error instanceof ClientError) return fail(`${error.message} (${error.code})`);
    return fail((error as Error).message);
  } finally {
    waiters = [];
    client.close();
    // Stop reading stdin (a read may still be pending when the session ended), so the process can exit.
    if (options.exec === undefined) (input as { destroy?: () => void }).destroy?.();
  }
}

async function* readLines(input: NodeJS.ReadableStream): AsyncGenerator<string> {
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  for await (const line of rl) yield line;
}
