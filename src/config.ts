import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { packageVersion } from './package-info.js';
import { parseCommandLine, UsageError, type CommandSpec } from './util/command-line.js';

/** A port: decimal digits only (`0x1F`, ` 7612` or an empty value are mistakes, not ports). */
const port = z.preprocess(
  (value) => (typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a port number (0–65535)' }).int().min(0).max(65535),
);

/** An IP address or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
function isAddressOrRange(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  // Digits only ("10.0.0.1/" is a typo, not /0), and never /0: that would trust every address.
  if (!/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  return n >= 1 && n <= (family === 4 ? 32 : 128);
}
const positiveInt = z.coerce.number().int().positive();
const optionalUrl = (...schemes: string[]) =>
  z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || schemes.some((scheme) => value.startsWith(`${scheme}://`)), {
      message: `must start with ${schemes.map((scheme) => `${scheme}://`).join(' or ')}`,
    });
/** A PEM file (certificate, key or CA bundle); read and checked at start-up. */
const pemFile = z.string().min(1).optional();

/**
 * Every setting: its environment variable, its default, and (`describe`) what it means, which
 * `npm start -- --help` prints (src/config-help.ts). The README's configuration table mirrors this schema;
 * CLI flags map onto the same names (`--chat-port 7000` sets CHAT_PORT). A default the schema cannot
 * express (computed at start-up) is given as `defaultText`.
 */
export const configSchema = z.object({
  CHAT_HOST: z
    .string()
    .min(1)
    .default('0.0.0.0')
    .describe('Address the chat listener (TCP JSON and WebSocket /ws) binds.'),
  CHAT_PORT: port.default(6000).describe('Chat port; 0 picks a free port.'),
  CHAT_TLS_CERT: pemFile.describe(
    'PEM certificate (chain) of the chat port: set with CHAT_TLS_KEY to serve TLS (TCP JSON and wss:// /ws) on CHAT_PORT instead of plaintext. Unset: plaintext (behind a load balancer that terminates TLS).',
  ),
  CHAT_TLS_KEY: pemFile.describe('PEM private key of CHAT_TLS_CERT.'),
  CHAT_TLS_CA: pemFile.describe(
    'PEM CA bundle: with CHAT_TLS_CERT, every chat client must present a certificate signed by it (mutual TLS, e.g. only your load balancers may connect).',
  ),
  ADMIN_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Address of the admin HTTP plane (health, KV, metrics).'),
  ADMIN_PORT: port.default(8080).describe('Admin HTTP port; 0 picks a free port.'),
  ADMIN_TLS_CERT: pemFile.describe(
    'PEM certificate of the admin port: with ADMIN_TLS_KEY the admin plane speaks HTTPS only.',
  ),
  ADMIN_TLS_KEY: pemFile.describe('PEM private key of ADMIN_TLS_CERT.'),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
    .optional()
    .meta({
      description: "This node's name in logs, metrics and the cluster view.",
      defaultText: '<hostname>-<pid>',
    }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  MYSQL_URL: optionalUrl('mysql').describe(
    'MySQL/MariaDB store, e.g. mysql://user:pass@host:3306/parley. Unset: embedded in-memory store. `?ssl=true` requires TLS, verified against the system CAs (or MYSQL_TLS_CA).',
  ),
  MYSQL_TLS_CA: pemFile.describe(
    "PEM CA bundle that signed the database's certificate; turns TLS on (verified, host name included).",
  ),
  MYSQL_TLS_CERT: pemFile.describe('PEM client certificate for MySQL (with MYSQL_TLS_KEY); turns TLS on.'),
  MYSQL_TLS_KEY: pemFile.describe('PEM private key of MYSQL_TLS_CERT.'),
  MIGRATE: z
    .enum(['auto', 'check'])
    .default('check')
    .describe(
      '`auto` applies pending migrations at start-up; `check` refuses to start while any are pending.',
    ),
  MYSQL_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(10)
    .describe('MySQL connections per node.'),
  MYSQL_ACQUIRE_TIMEOUT_MS: positiveInt
    .default(3000)
    .describe('Waiting longer than this for a pooled MySQL connection fails the request with UNAVAILABLE.'),
  MYSQL_APPEND_QUEUE_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000)
    .describe(
      'Appends queued per node for the next group-commit batches; when full, a send waits for room up to MYSQL_ACQUIRE_TIMEOUT_MS (as many sends again at most), then fails with UNAVAILABLE.',
    ),
  ACK_FLUSH_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(50)
    .describe(
      'Least time between two ack writes of a node while acks keep coming: the acks of that span go to MySQL in one statement and commit. An ack on a node that wrote none for this long is written at once. Acks not yet written when a node dies mean redelivery of those messages after the reconnect, never loss. 0: write as soon as the previous write is done.',
    ),
  MYSQL_CONNECT_TIMEOUT_MS: positiveInt
    .default(5000)
    .describe('TCP connect timeout of one MySQL connection.'),
  REDIS_URL: optionalUrl('redis', 'rediss').describe(
    'Redis bus, e.g. redis://host:6379, or rediss://host:6380 for TLS (verified against the system CAs or REDIS_TLS_CA). Unset: in-process bus (single node).',
  ),
  REDIS_TLS_CA: pemFile.describe(
    "PEM CA bundle that signed Redis's certificate (needs a rediss:// REDIS_URL).",
  ),
  REDIS_TLS_CERT: pemFile.describe('PEM client certificate for Redis (with REDIS_TLS_KEY; needs rediss://).'),
  REDIS_TLS_KEY: pemFile.describe('PEM private key of REDIS_TLS_CERT.'),
  REDIS_PREFIX: z
    .string()
    .max(64)
    .default('parley:')
    .describe('Prefix of every Redis key and channel, so several clusters can share one Redis.'),
  PRESENCE_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(15_000)
    .describe(
      "A node's presence leases expire this long after its last heartbeat (heartbeat every third of it).",
    ),
  BCRYPT_COST: z.coerce
    .number()
    .int()
    .min(4)
    .max(15)
    .default(10)
    .describe('bcrypt cost factor for password hashes.'),
  SESSION_SECRET: z.string().min(16, 'at least 16 characters').optional().meta({
    description: 'HMAC secret for session tokens; set the same value on every node of a cluster.',
    defaultText: 'random per process',
  }),
  SESSION_TTL_S: positiveInt
    .default(7 * 24 * 3600)
    .describe('Lifetime of a session token used by `resume` (604800: 7 days).'),
  MAX_FRAME_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Largest inbound frame (a JSON line or a WebSocket message).'),
  MAX_MESSAGE_CHARS: z.coerce
    .number()
    .int()
    .min(1)
    .max(60000)
    .default(8000)
    .describe('Largest chat message body, in characters.'),
  MAX_CONNECTIONS: positiveInt
    .default(18000)
    .describe('Concurrent chat connections this node accepts (open files are capped at 20,000 per process).'),
  MAX_CONNECTIONS_PER_IP: positiveInt
    .default(1000)
    .describe(
      'Concurrent chat connections this node accepts from one client address (behind a load balancer the address comes from its PROXY header; nginx limit_conn is the first line).',
    ),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry.length > 0),
    )
    .refine((entries) => entries.every(isAddressOrRange), { message: 'comma-separated IPs or CIDR ranges' })
    .describe(
      'Load balancers (IPs or CIDR ranges, comma-separated) whose PROXY protocol header names the real client address; a PROXY header from anyone else is refused. Empty: none.',
    ),
  LOGIN_PER_IP_PER_MIN: positiveInt
    .default(60)
    .describe(
      'Password logins per client address per minute, cluster-wide (through Redis when there is one).',
    ),
  REGISTER_PER_IP_PER_HOUR: positiveInt
    .default(20)
    .describe('Registrations per client address per hour, cluster-wide.'),
  LOGIN_FREE_FAILURES: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(3)
    .describe(
      'Wrong passwords per (account, address) before backoff starts: then 1 s, 2 s, 4 s … up to LOGIN_BACKOFF_MAX_S; a success from that address clears it.',
    ),
  LOGIN_BACKOFF_MAX_S: positiveInt
    .default(900)
    .describe('Longest backoff after repeated wrong passwords from one address.'),
  ACCOUNT_FAILURES_BEFORE_DELAY: positiveInt
    .default(50)
    .describe(
      'Wrong passwords for one account from all addresses in 10 minutes before every attempt on it is slowed by ACCOUNT_DELAY_MS (slowed, never locked).',
    ),
  ACCOUNT_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(1000)
    .describe('The slow-down added to each login attempt on an account under attack.'),
  PRESENCE_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(1000)
    .describe(
      'Friends hear that a user went offline only if they are still offline this long after (a reconnect within it, e.g. to another node, makes no flicker); 0: at once',
    ),
  MAX_DEVICES_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(10)
    .describe(
      'Devices of one account online at once (v1 connections count as one device); a login from one more is refused with TOO_MANY_DEVICES',
    ),
  DEVICE_RETENTION_DAYS: z.coerce
    .number()
    .min(1)
    .max(3650)
    .default(30)
    .describe(
      'A device not seen for this long no longer holds back inbox pruning; when it returns it starts afresh (history has the rest)',
    ),
  TYPING_PER_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('Typing notices relayed per connection per second; more are dropped'),
  AUTH_CACHE_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(300)
    .describe(
      'A password verified for a user is accepted again without bcrypt for this long (an HMAC, kept in the process, or in Redis under a key derived from SESSION_SECRET in a cluster; a changed password never matches). 0 turns the cache off.',
    ),
  AUTH_CACHE_MAX: positiveInt
    .max(10_000_000)
    .default(100_000)
    .describe('Verified credentials remembered at most in a process (in Redis: one key per user, expiring).'),
  BCRYPT_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(8)
    .describe(
      "Password hashes admitted at once: twice libuv's 4 threads, so a thread never idles while the event loop hands it the next one (4 measured 15 % fewer logins/s).",
    ),
  BCRYPT_QUEUE: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(64)
    .describe(
      'Password hashes waiting at most; more are refused at once with RATE_LIMITED and retryAfterMs.',
    ),
  BCRYPT_QUEUE_PER_IP: positiveInt
    .default(4)
    .describe(
      'Password hashes one client address may have running or waiting (fair share in a login storm).',
    ),
  RATE_PER_S: positiveInt.default(200).describe('Sustained requests per second per connection.'),
  RATE_BURST: positiveInt.default(400).describe('Burst of requests per connection above the sustained rate.'),
  LOGIN_RATE_PER_S: z.coerce
    .number()
    .positive()
    .default(1)
    .describe('Login/register/resume attempts per second per connection.'),
  LOGIN_BURST: positiveInt.default(5).describe('Burst of login/register/resume attempts per connection.'),
  HEARTBEAT_TIMEOUT_MS: positiveInt
    .default(45_000)
    .describe('A v2 connection that sends nothing (not even a ping) for this long is closed.'),
  UNAUTH_TIMEOUT_MS: positiveInt
    .default(300_000)
    .describe('A connection that has not logged in is closed after this long without traffic.'),
  OUTBOUND_HIGH_WATER_BYTES: positiveInt
    .default(1024 * 1024)
    .describe('Outbound bytes buffered for one connection before the slow-consumer timer starts.'),
  OUTBOUND_MAX_BYTES: positiveInt
    .default(8 * 1024 * 1024)
    .describe('Outbound bytes buffered for one connection that close it at once.'),
  SLOW_CONSUMER_TIMEOUT_MS: positiveInt
    .default(10_000)
    .describe('How long a connection may stay above the high-water mark before it is closed.'),
  V1_OFFLINE_BATCH: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('Offline messages placed inside a v1 LOGIN_MSG_ACK; the rest follow as ordinary messages.'),
  V1_MAX_FRAME_BYTES: z.coerce
    .number()
    .int()
    .min(512)
    .max(65_536)
    .default(1023)
    .describe(
      "Largest frame written to a v1 connection, newline included: the ancestor's client reads one recv() into a 1024-byte buffer and must find exactly one JSON document in it.",
    ),
  V1_PACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(5)
    .describe(
      "Pacing of v1 TCP connections: after a frame was handed to the OS, the next waits this long, so the ancestor's client reads each frame alone (two in one read abort it). 0 turns pacing off.",
    ),
  V1_PACE_QUEUE: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(16)
    .describe(
      'Frames waiting for their turn on a paced connection before delivery waits (messages stay in the inbox).',
    ),
  V1_ACK_SETTLE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(10_000)
    .describe(
      "A delivery to a v1 connection counts as delivered once the connection stayed open this long after the write (or sent later requests, or logged out cleanly); dropped sooner, it comes again at the next login. Keep it above the load balancers' failover time: behind a frozen LB a connection looks open while its frames sit in the frozen nginx.",
    ),
  V1_HOLD_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(30_000)
    .describe(
      "A v1 request the ancestor's client never hears a reply to (a chat message, add friend, …) that cannot be stored right now is retried this long, in order; then the connection is closed so its user sees a disconnect instead of a silent loss.",
    ),
  PAGE_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(200)
    .describe(
      'Page size used when replaying an inbox to a connection and the largest `sync`/`history` page.',
    ),
  EMBEDDED_HISTORY_LIMIT: positiveInt
    .default(10_000)
    .describe('Embedded store only: messages kept per conversation for history.'),
  KV_ARRAY_CAPACITY: positiveInt.default(524_288).describe('KV array engine capacity (entries).'),
  KV_HASH_CAPACITY: positiveInt.default(131_072).describe('KV hash engine capacity (entries).'),
  KV_RBTREE_CAPACITY: positiveInt.default(524_288).describe('KV red-black tree capacity (entries).'),
  KV_MAX_KEY_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(65_536)
    .default(1024)
    .describe('Longest KV key in UTF-8 bytes; longer is an error, never truncated.'),
  KV_MAX_VALUE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(16 * 1024 * 1024)
    .default(65_536)
    .describe('Longest KV value in UTF-8 bytes.'),
  KV_DATA_DIR: z
    .string()
    .min(1)
    .optional()
    .describe('Directory of the KV append-only logs; unset keeps KV data in memory only.'),
  KV_FSYNC: z
    .enum(['always', 'everysec', 'no'])
    .default('everysec')
    .describe('KV log fsync policy: always | everysec | no.'),
  ADMIN_TOKEN: z
    .string()
    .min(8, 'at least 8 characters')
    .optional()
    .describe('When set, every /api/* call on the admin port needs `Authorization: Bearer <token>`.'),
  ADMIN_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value, context) => {
      const origins = (value ?? '')
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          parsed = undefined;
        }
        if (
          parsed === undefined ||
          !/^https?:$/.test(parsed.protocol) ||
          parsed.origin !== origin.toLowerCase()
        ) {
          context.addIssue({
            code: 'custom',
            message: `'${origin}' is not a web origin like https://ops.example.com (scheme, host, optional port; no path; no *)`,
          });
        }
      }
      return origins;
    })
    .meta({
      description:
        "Comma-separated web origins (https://ops.example.com) whose pages may call the admin plane from a browser. Unset: none — only the admin page's own origin, and clients that send no Origin (curl, monitoring).",
      defaultText: 'none',
    }),
  ADMIN_FAST_LANE: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      "`on`: the admin plane answers its hot JSON routes on its own HTTP/1.1 fast lane; `off`: Node's http only.",
    ),
  SHUTDOWN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5000)
    .describe('Grace period on SIGTERM/SIGINT before remaining connections are cut.'),
});

export type RawConfig = z.infer<typeof configSchema>;
export interface Config extends Omit<RawConfig, 'NODE_ID' | 'SESSION_SECRET'> {
  readonly NODE_ID: string;
  readonly SESSION_SECRET: string;
  /** True when SESSION_SECRET was generated for this process (tokens do not survive a restart). */
  readonly sessionSecretGenerated: boolean;
  /** NODE_ID was not set: it is `<hostname>-<pid>`, which clients are not told (see `nodeLabel`). */
  readonly nodeIdGenerated: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `CHAT_PORT` → `chat-port` (the flag is `--chat-port`). */
export function flagName(key: string): string {
  return key.toLowerCase().replaceAll('_', '-');
}

/** The server's command line: one `--kebab-name <value>` flag per setting, plus --help and --version. */
export const serverCommand: CommandSpec = {
  name: 'parley',
  usage: 'npm start -- [options]',
  summary: 'Parley chat server.',
  version: packageVersion,
  options: Object.fromEntries(
    Object.entries(configSchema.shape).map(([key, schema]) => [
      flagName(key),
      { type: 'string', description: schema.description ?? key },
    ]),
  ),
};

/** Turns `--chat-port 7000` / `--chat-port=7000` into { CHAT_PORT: '7000' }; ConfigError names a bad flag. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  let values;
  try {
    values = parseCommandLine(serverCommand, argv).values;
  } catch (error) {
    if (error instanceof UsageError) throw new ConfigError(`${error.message} (see --help)`);
    throw error;
  }
  const env: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = values[flagName(key)];
    if (typeof value === 'string') env[key] = value;
  }
  return env;
}

/** Validates env (plus CLI flags, which win) into a frozen Config; throws ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Config {
  const known: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) known[key] = env[key] === '' ? undefined : env[key];
  const parsed = configSchema.safeParse({ ...known, ...flagsToEnv(argv) });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const raw = parsed.data;
  if (raw.OUTBOUND_MAX_BYTES < raw.OUTBOUND_HIGH_WATER_BYTES) {
    throw new ConfigError(
      'invalid configuration:\n  OUTBOUND_MAX_BYTES: must be >= OUTBOUND_HIGH_WATER_BYTES',
    );
  }
  const tlsProblem = checkTlsSettings(raw);
  if (tlsProblem !== undefined) throw new ConfigError(`invalid configuration:\n  ${tlsProblem}`);
  return Object.freeze({
    ...raw,
    NODE_ID: raw.NODE_ID ?? `${hostname()}-${process.pid}`,
    SESSION_SECRET: raw.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    sessionSecretGenerated: raw.SESSION_SECRET === undefined,
    nodeIdGenerated: raw.NODE_ID === undefined,
  });
}

/** TLS settings that only make sense together; the first problem, naming the variable, or undefined. */
function checkTlsSettings(raw: RawConfig): string | undefined {
  for (const [cert, key] of [
    ['CHAT_TLS_CERT', 'CHAT_TLS_KEY'],
    ['MYSQL_TLS_CERT', 'MYSQL_TLS_KEY'],
    ['REDIS_TLS_CERT', 'REDIS_TLS_KEY'],
    ['ADMIN_TLS_CERT', 'ADMIN_TLS_KEY'],
  ] as const) {
    if (raw[cert] !== undefined && raw[key] === undefined) return `${key}: required with ${cert}`;
    if (raw[key] !== undefined && raw[cert] === undefined) return `${cert}: required with ${key}`;
  }
  if (raw.CHAT_TLS_CA !== undefined && raw.CHAT_TLS_CERT === undefined) {
    return 'CHAT_TLS_CA: client certificates need TLS on the chat port; set CHAT_TLS_CERT and CHAT_TLS_KEY';
  }
  const redisTls = raw.REDIS_TLS_CA ?? raw.REDIS_TLS_CERT;
  if (redisTls !== undefined && !raw.REDIS_URL?.startsWith('rediss://')) {
    const name = raw.REDIS_TLS_CA !== undefined ? 'REDIS_TLS_CA' : 'REDIS_TLS_CERT';
    return `${name}: needs a rediss:// REDIS_URL (TLS); redis:// is plaintext`;
  }
  const mysqlTls = raw.MYSQL_TLS_CA ?? raw.MYSQL_TLS_CERT;
  if (mysqlTls !== undefined && raw.MYSQL_URL === undefined) {
    return `${raw.MYSQL_TLS_CA !== undefined ? 'MYSQL_TLS_CA' : 'MYSQL_TLS_CERT'}: needs MYSQL_URL`;
  }
  return undefined;
}

/** DEVICE_RETENTION_DAYS in milliseconds, as the store factories take it. */
export function deviceRetentionMs(config: Pick<Config, 'DEVICE_RETENTION_DAYS'>): number {
  return Math.round(config.DEVICE_RETENTION_DAYS * 86_400_000);
}
