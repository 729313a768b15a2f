import { commandHelp, parseCommandLine, UsageError, type CommandSpec } from '../util/command-line.js';

export { UsageError };

/** The port of a node started with `npm start` (the README's Quick start). */
export const DEFAULT_PORT = 6000;

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

/** `parley-client`'s flags and help text. */
export const clientCommand = {
  name: 'parley-client',
  usage:
    'parley-client [host] [port] [options]     (in this checkout: npm run client -- [host] [port] [options])',
  summary: `Chat with a Parley server: default 127.0.0.1 ${DEFAULT_PORT}, a node started by \`npm start\`; the
cluster's load balancer (\`npm run cluster\`) is port 8000. Without --exec, on a terminal, it opens the
interactive menu: 1. login, 2. register, 3. quit, then chat commands (type help).`,
  positionals: { max: 2 },
  options: {
    ws: { type: 'boolean', description: 'connect over WebSocket (ws://host:port/ws) instead of TCP' },
    user: { type: 'string', value: '<id|name>', description: 'log in as this user (id or name)' },
    password: {
      type: 'string',
      value: '<pw>',
      description: 'password (prefer PARLEY_PASSWORD: flags show in ps)',
    },
    register: {
      type: 'boolean',
      description: 'scripted mode: create the account first if it does not exist',
    },
    exec: { type: 'string', value: '"c1; c2"', description: 'run these commands and exit (scripted mode)' },
    json: { type: 'boolean', description: 'scripted mode: print one JSON object per event' },
    timeout: {
      type: 'integer',
      value: '<ms>',
      default: 10_000,
      description: 'scripted mode: how long wait:N and requests may take',
    },
  },
  env: [
    ['PARLEY_PASSWORD', 'the password for --user (scripted mode)'],
    ['NO_COLOR', 'set: no colour on the terminal'],
  ],
  notes: `Scripted mode runs when stdin is not a terminal or --exec is given: it logs in with --user and the
password, runs one command per line (or per ';' in --exec), prints one event per line, and exits 1 with
a message on stderr when a command fails or the account logs in elsewhere. Extra commands: wait:N (wait
until N messages have arrived since login, offline ones included), sleep:ms.

Commands: help, chat:friendid:message, addfriend:friendid, creategroup:groupname:groupdesc,
addgroup:groupid, groupchat:groupid:message, friends, groups, history:friendid, history:g:groupid,
whois:name, loginout, quit.`,
} as const satisfies CommandSpec;

/** The text of `parley-client --help`. */
export const USAGE = commandHelp(clientCommand);

/** Parses argv (without node and the script); throws UsageError with a one-line reason. */
export function parseCliOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const { values, positionals, help } = parseCommandLine(clientCommand, argv);
  const port = Number(positionals[1] ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`port must be 1-65535, got '${positionals[1]}'`);
  if (values.timeout <= 0) throw new UsageError('--timeout must be a positive number of ms');
  return {
    host: positionals[0] ?? '127.0.0.1',
    port,
    transport: values.ws ? 'ws' : 'tcp',
    user: values.user,
    password: values.password ?? env.PARLEY_PASSWORD,
    register: values.register,
    exec: values.exec,
    json: values.json,
    timeoutMs: values.timeout,
    help,
  };
}

/** `--user 7` logs in by id, `--user alice` by name. */
export function identity(user: string): { id: number } | { name: string } {
  return /^\d{1,10}$/.test(user) ? { id: Number(user) } : { name: user };
}
