import { parseArgs } from 'node:util';

export interface CliOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tcp' | 'ws';
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly register: boolean;
  readonly exec: string | undefined;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly help: boolean;
}

export const USAGE = `Usage: parley-client [host] [port] [options]

Chat with a Parley server (default 127.0.0.1 8000, the load balancer). Without options it opens the
interactive menu: 1. login, 2. register, 3. quit, then chat commands (type help).

Options:
  --ws                  connect over WebSocket (ws://host:port/ws) instead of TCP
  --user <id|name>      log in as this user (id or name)
  --password <pw>       password (prefer the PARLEY_PASSWORD environment variable: flags show in ps)
  --register            create the account first if it does not exist (scripted mode)
  --exec "c1; c2"       run these commands and exit (scripted mode)
  --json                scripted mode: print one JSON object per event
  --timeout <ms>        scripted mode: how long wait:N and requests may take (default 10000)
  -h, --help            show this help

Scripted mode runs when stdin is not a terminal or --exec is given: it logs in with --user and the
password, runs one command per line (or per ';' in --exec), prints one event per line, and exits 1 with
a message on stderr when a command fails. Extra commands: wait:N (wait until N messages have arrived
since login, offline ones included), sleep:ms.

Commands: help, chat:friendid:message, addfriend:friendid, creategroup:groupname:groupdesc,
addgroup:groupid, groupchat:groupid:message, friends, groups, history:friendid, history:g:groupid,
whois:name, loginout, quit.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses argv (without node and the script); throws UsageError with a readable reason. */
export function parseCliOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        ws: { type: 'boolean', default: false },
        user: { type: 'string' },
        password: { type: 'string' },
        register: { type: 'boolean', default: false },
        exec: { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '10000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 2) throw new UsageError(`too many arguments: ${positionals.slice(2).join(' ')}`);
  const port = Number(positionals[1] ?? 8000);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`port must be 1-65535, got '${positionals[1]}'`);
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new UsageError(`--timeout must be a positive number of ms`);
  return {
    host: positionals[0] ?? '127.0.0.1',
    port,
    transport: values.ws ? 'ws' : 'tcp',
    user: values.user,
    password: values.password ?? env.PARLEY_PASSWORD,
    register: values.register,
    exec: values.exec,
    json: values.json,
    timeoutMs,
    help: values.help,
  };
}

/** `--user 7` logs in by id, `--user alice` by name. */
export function identity(user: string): { id: number } | { name: string } {
  return /^\d{1,10}$/.test(user) ? { id: Number(user) } : { name: user };
}
