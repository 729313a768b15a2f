import { readFileSync } from 'node:fs';
import { CertificateError, type ClientTlsOptions, type Endpoint } from '../client/client-transport.js';
import { defaultDeviceFile, type DeviceStore, fileDeviceStore, isValidDevice } from '../client/device-id.js';
import { commandHelp, parseCommandLine, UsageError, type CommandSpec } from '../util/command-line.js';

export { UsageError };

/** The port of a node started with `npm start` (the README's Quick start). */
export const DEFAULT_PORT = 6000;

export interface CliOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tcp' | 'ws';
  /** TLS settings (--tls, wss://, --ca, --insecure); undefined: plaintext. */
  readonly tls: ClientTlsOptions | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** --device / PARLEY_DEVICE; undefined: the one stored in the config directory (made on first use). */
  readonly device: string | undefined;
  readonly register: boolean;
  readonly exec: string | undefined;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly help: boolean;
}

/** `parley-client`'s flags and help text. */
export const clientCommand = {
  name: 'parley-client',
  usage: `parley-client [host] [port] [options]     (in this checkout: npm run client -- [host] [port] [options])
       parley-client wss://host:port/ws [options]    (or ws://host:port/ws)`,
  summary: `Chat with a Parley server: default 127.0.0.1 ${DEFAULT_PORT}, a node started by \`npm start\`; the
cluster's load balancer (\`npm run cluster\`) is port 8000. Without --exec, on a terminal, it opens the
interactive menu: 1. login, 2. register, 3. quit, then chat commands (type help).`,
  positionals: { max: 2 },
  options: {
    ws: { type: 'boolean', description: 'connect over WebSocket (ws://host:port/ws) instead of TCP' },
    tls: {
      type: 'boolean',
      description:
        "encrypt with TLS (wss:// with --ws), verifying the server's certificate (load balancer: port 8443)",
    },
    ca: {
      type: 'string',
      value: '<file>',
      description:
        "trust this PEM CA (e.g. a self-signed server's certificate) instead of the system's; implies --tls",
    },
    insecure: {
      type: 'boolean',
      description:
        "TLS without checking the server's certificate: anyone on the path can read and change the session, password included. Never in production",
    },
    user: { type: 'string', value: '<id|name>', description: 'log in as this user (id or name)' },
    password: {
      type: 'string',
      value: '<pw>',
      description: 'password (prefer PARLEY_PASSWORD: flags show in ps)',
    },
    device: {
      type: 'string',
      value: '<name>',
      description:
        "this device's name (A-Z a-z 0-9 . _ : -, up to 64); default: generated once and kept in ~/.config/parley/device",
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
    ['PARLEY_DEVICE', 'the device name, as --device'],
    ['XDG_CONFIG_HOME', 'where the device name is kept (default ~/.config): $XDG_CONFIG_HOME/parley/device'],
    ['NO_COLOR', 'set: no colour on the terminal'],
  ],
  notes: `Scripted mode runs when stdin is not a terminal or --exec is given: it logs in with --user and the
password, runs one command per line (or per ';' in --exec), prints one event per line, and exits 1 with
a message on stderr when a command fails or the account logs in elsewhere. Extra commands: wait:N (wait
until N messages have arrived since login, offline ones included), sleep:ms, typing:friendid[:stop]
(typing:g:groupid[:stop]). Presence changes, typing hints and read receipts print as events too.

Devices: each installation is a device (its name kept in ~/.config/parley/device); you can be logged in
on several at once, each gets every message, and your messages from one show on the others.

Commands: help, chat:friendid:message, addfriend:friendid, creategroup:groupname:groupdesc,
addgroup:groupid, groupchat:groupid:message, friends, groups, history:friendid, history:g:groupid,
whois:name, conversations, read:friendid, read:g:groupid, hide, show, devices, loginout,
loginout:everywhere, quit.`,
} as const satisfies CommandSpec;

/** The text of `parley-client --help`. */
export const USAGE = commandHelp(clientCommand);

/** Parses argv (without node and the script); throws UsageError with a one-line reason. */
export function parseCliOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const { values, positionals, help } = parseCommandLine(clientCommand, argv);
  const url = urlEndpoint(positionals[0]);
  if (url && positionals.length > 1) throw new UsageError(`give the port inside the URL ${positionals[0]}`);
  const port = url?.port ?? Number(positionals[1] ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`port must be 1-65535, got '${positionals[1]}'`);
  if (values.timeout <= 0) throw new UsageError('--timeout must be a positive number of ms');
  if (url?.secure === false && (values.tls || values.ca !== undefined || values.insecure))
    throw new UsageError(`${positionals[0]} is plaintext; use wss:// for TLS`);
  const secure = url?.secure ?? (values.tls || values.ca !== undefined || values.insecure);
  return {
    host: url?.host ?? positionals[0] ?? '127.0.0.1',
    port,
    transport: url || values.ws ? 'ws' : 'tcp',
    tls: secure
      ? {
          ...(values.ca === undefined ? {} : { ca: readCa(values.ca) }),
          ...(values.insecure ? { rejectUnauthorized: false } : {}),
        }
      : undefined,
    user: values.user,
    password: values.password ?? env.PARLEY_PASSWORD,
    device: checkedDevice(values.device ?? (env.PARLEY_DEVICE || undefined)),
    register: values.register,
    exec: values.exec,
    json: values.json,
    timeoutMs: values.timeout,
    help,
  };
}

function checkedDevice(device: string | undefined): string | undefined {
  if (device !== undefined && !isValidDevice(device))
    throw new UsageError(`--device must be 1-64 characters of A-Z a-z 0-9 . _ : - (got '${device}')`);
  return device;
}

/** The device the client uses: --device, else the one kept in the config directory. */
export function deviceOf(
  options: CliOptions,
  env: NodeJS.ProcessEnv = process.env,
): { device: string } | { deviceStore: DeviceStore } {
  return options.device !== undefined
    ? { device: options.device }
    : { deviceStore: fileDeviceStore(defaultDeviceFile(env)) };
}

/** `--user 7` logs in by id, `--user alice` by name. */
export function identity(user: string): { id: number } | { name: string } {
  return /^\d{1,10}$/.test(user) ? { id: Number(user) } : { name: user };
}

/** `ws://host:port/ws` or `wss://host:port/ws` as the first argument; undefined for a plain host. */
function urlEndpoint(text: string | undefined): { host: string; port: number; secure: boolean } | undefined {
  if (text === undefined || !/^wss?:\/\//i.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URL: ${text}`);
  }
  if (url.pathname !== '/ws' && url.pathname !== '/')
    throw new UsageError(`the chat WebSocket is at /ws, not ${url.pathname}`);
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, secure };
}

function readCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--ca: cannot read ${path} (${(error as { code?: string }).code ?? 'error'})`);
  }
}

/** Where and how to connect, as the client library takes it. */
export function endpointOf(options: CliOptions): Endpoint {
  return { host: options.host, port: options.port, transport: options.transport, tls: options.tls };
}

/** The warning printed whenever --insecure is used, before anything is sent. */
export const INSECURE_WARNING = `WARNING: --insecure: the server's TLS certificate is NOT checked. Anyone on the network path
can pose as the server, and read and change this session, your password included. Use --ca FILE instead.`;

/** The one line that says why connecting failed, with the fix for a certificate that did not verify. */
export function connectFailure(options: CliOptions, error: unknown): string {
  const where = `cannot connect to ${options.host}:${options.port}`;
  if (error instanceof CertificateError) {
    return `${where}: ${error.message}. If this is your server with a private or self-signed certificate, pass its CA with --ca FILE`;
  }
  return `${where} (${(error as Error).message})`;
}
