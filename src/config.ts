import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalUrl = (scheme: string) =>
  z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || value.startsWith(`${scheme}://`), {
      message: `must start with ${scheme}://`,
    });

/**
 * Every setting, its environment variable, and its default. The README's configuration table mirrors
 * this schema; CLI flags map onto the same names (`--chat-port 7000` sets CHAT_PORT).
 */
export const configSchema = z.object({
  /** Address the chat listener (TCP JSON and WebSocket /ws) binds. @default 0.0.0.0 */
  CHAT_HOST: z.string().min(1).default('0.0.0.0'),
  /** Chat port; 0 picks a free port. @default 6000 */
  CHAT_PORT: port.default(6000),
  /** Address of the admin HTTP plane (health, KV, metrics). @default 127.0.0.1 */
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  /** Admin HTTP port; 0 picks a free port. @default 8080 */
  ADMIN_PORT: port.default(8080),
  /** This node's name in logs, metrics and the cluster view. @default <hostname>-<pid> */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
    .optional(),
  /** pino log level. @default info */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** MySQL/MariaDB store, e.g. mysql://user:pass@host:3306/parley. Unset: embedded in-memory store. */
  MYSQL_URL: optionalUrl('mysql'),
  /** `auto` applies pending migrations at start-up; `check` refuses to start while any are pending. @default check */
  MIGRATE: z.enum(['auto', 'check']).default('check'),
  /** MySQL connections per node. @default 10 */
  MYSQL_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  /** Waiting longer than this for a pooled MySQL connection fails the request with UNAVAILABLE. @default 3000 */
  MYSQL_ACQUIRE_TIMEOUT_MS: positiveInt.default(3000),
  /**
   * Appends queued per node for the next group-commit batches; when full, a send waits for room up to
   * MYSQL_ACQUIRE_TIMEOUT_MS (as many sends again at most), then fails with UNAVAILABLE. @default 10000
   */
  MYSQL_APPEND_QUEUE_MAX: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** TCP connect timeout of one MySQL connection. @default 5000 */
  MYSQL_CONNECT_TIMEOUT_MS: positiveInt.default(5000),
  /** Redis bus, e.g. redis://host:6379. Unset: in-process bus (single node). */
  REDIS_URL: optionalUrl('redis'),
  /** Prefix of every Redis key and channel, so several clusters can share one Redis. @default parley: */
  REDIS_PREFIX: z.string().max(64).default('parley:'),
  /** A node's presence leases expire this long after its last heartbeat (heartbeat every third of it). @default 15000 */
  PRESENCE_TTL_MS: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  /** bcrypt cost factor for password hashes. @default 10 */
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
  /** HMAC secret for session tokens; set the same value on every node of a cluster. @default random per process */
  SESSION_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Lifetime of a session token used by `resume`. @default 604800 (7 days) */
  SESSION_TTL_S: positiveInt.default(7 * 24 * 3600),
  /** Largest inbound frame (a JSON line or a WebSocket message). @default 65536 */
  MAX_FRAME_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  /** Largest chat message body, in characters. @default 8000 */
  MAX_MESSAGE_CHARS: z.coerce.number().int().min(1).max(60000).default(8000),
  /** Concurrent chat connections this node accepts (open files are capped at 20,000 per process). @default 18000 */
  MAX_CONNECTIONS: positiveInt.default(18000),
  /** Sustained requests per second per connection. @default 200 */
  RATE_PER_S: positiveInt.default(200),
  /** Burst of requests per connection above the sustained rate. @default 400 */
  RATE_BURST: positiveInt.default(400),
  /** Login/register/resume attempts per second per connection. @default 1 */
  LOGIN_RATE_PER_S: z.coerce.number().positive().default(1),
  /** Burst of login/register/resume attempts per connection. @default 5 */
  LOGIN_BURST: positiveInt.default(5),
  /** A v2 connection that sends nothing (not even a ping) for this long is closed. @default 45000 */
  HEARTBEAT_TIMEOUT_MS: positiveInt.default(45_000),
  /** A connection that has not logged in is closed after this long without traffic. @default 300000 */
  UNAUTH_TIMEOUT_MS: positiveInt.default(300_000),
  /** Outbound bytes buffered for one connection before the slow-consumer timer starts. @default 1048576 */
  OUTBOUND_HIGH_WATER_BYTES: positiveInt.default(1024 * 1024),
  /** Outbound bytes buffered for one connection that close it at once. @default 8388608 */
  OUTBOUND_MAX_BYTES: positiveInt.default(8 * 1024 * 1024),
  /** How long a connection may stay above the high-water mark before it is closed. @default 10000 */
  SLOW_CONSUMER_TIMEOUT_MS: positiveInt.default(10_000),
  /** Offline messages placed inside a v1 LOGIN_MSG_ACK; the rest follow as ordinary messages. @default 100 */
  V1_OFFLINE_BATCH: z.coerce.number().int().min(1).max(1000).default(100),
  /**
   * Largest frame written to a v1 connection, newline included: the ancestor's client reads one
   * `recv()` into a 1024-byte buffer and must find exactly one JSON document in it. @default 1023
   */
  V1_MAX_FRAME_BYTES: z.coerce.number().int().min(512).max(65_536).default(1023),
  /**
   * Pacing of v1 TCP connections: after a frame was handed to the OS, the next waits this long, so the
   * ancestor's client reads each frame alone (two in one read abort it). 0 turns pacing off. @default 5
   */
  V1_PACE_MS: z.coerce.number().int().min(0).max(1000).default(5),
  /** Frames waiting for their turn on a paced connection before delivery waits (messages stay in the inbox). @default 16 */
  V1_PACE_QUEUE: z.coerce.number().int().min(1).max(10_000).default(16),
  /**
   * A delivery to a v1 connection counts as delivered once the connection stayed open this long after
   * the write (or sent a later request, or logged out cleanly); dropped sooner, it comes again at the
   * next login. @default 3000
   */
  V1_ACK_SETTLE_MS: z.coerce.number().int().min(0).max(600_000).default(3000),
  /**
   * A v1 request the ancestor's client never hears a reply to (a chat message, add friend, …) that cannot
   * be stored right now is retried this long, in order; then the connection is closed so its user sees
   * a disconnect instead of a silent loss. @default 30000
   */
  V1_HOLD_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** Page size used when replaying an inbox to a connection and the largest `sync`/`history` page. @default 200 */
  PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  /** Embedded store only: messages kept per conversation for history. @default 10000 */
  EMBEDDED_HISTORY_LIMIT: positiveInt.default(10_000),
  /** KV array engine capacity (entries). @default 524288 */
  KV_ARRAY_CAPACITY: positiveInt.default(524_288),
  /** KV hash engine capacity (entries). @default 131072 */
  KV_HASH_CAPACITY: positiveInt.default(131_072),
  /** KV red-black tree capacity (entries). @default 524288 */
  KV_RBTREE_CAPACITY: positiveInt.default(524_288),
  /** Longest KV key in UTF-8 bytes; longer is an error, never truncated. @default 1024 */
  KV_MAX_KEY_BYTES: z.coerce.number().int().min(1).max(65_536).default(1024),
  /** Longest KV value in UTF-8 bytes. @default 65536 */
  KV_MAX_VALUE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(16 * 1024 * 1024)
    .default(65_536),
  /** Directory of the KV append-only logs; unset keeps KV data in memory only. */
  KV_DATA_DIR: z.string().min(1).optional(),
  /** KV log fsync policy: always | everysec | no. @default everysec */
  KV_FSYNC: z.enum(['always', 'everysec', 'no']).default('everysec'),
  /** When set, every /api/* call on the admin port needs `Authorization: Bearer <token>`. */
  ADMIN_TOKEN: z.string().min(8, 'at least 8 characters').optional(),
  /** Grace period on SIGTERM/SIGINT before remaining connections are cut. @default 5000 */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(5000),
});

export type RawConfig = z.infer<typeof configSchema>;
export interface Config extends Omit<RawConfig, 'NODE_ID' | 'SESSION_SECRET'> {
  readonly NODE_ID: string;
  readonly SESSION_SECRET: string;
  /** True when SESSION_SECRET was generated for this process (tokens do not survive a restart). */
  readonly sessionSecretGenerated: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Turns `--chat-port 7000` / `--chat-port=7000` into { CHAT_PORT: '7000' }. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--'))
      throw new ConfigError(`unexpected argument '${arg}' (flags look like --chat-port 7000)`);
    const eq = arg.indexOf('=');
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('-', '_').toUpperCase();
    const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (value === undefined || (eq === -1 && value.startsWith('--')))
      throw new ConfigError(`flag ${arg} needs a value`);
    if (eq === -1) i++;
    if (!(name in configSchema.shape)) throw new ConfigError(`unknown flag ${arg}`);
    env[name] = value;
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
  return Object.freeze({
    ...raw,
    NODE_ID: raw.NODE_ID ?? `${hostname()}-${process.pid}`,
    SESSION_SECRET: raw.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    sessionSecretGenerated: raw.SESSION_SECRET === undefined,
  });
}
