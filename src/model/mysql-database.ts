import { createPool, type Pool } from 'generic-pool';
import mysql, { type Connection, type ConnectionOptions, type SslOptions } from 'mysql2/promise';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { systemClock, type Clock } from '../util/clock.js';

export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/db`; `?ssl=true` requires TLS (verified against the system's CAs). */
  readonly url: string;
  /** CA and client certificate (PEM contents); given, TLS is on and the server verified against them. */
  readonly tls?: Pick<SslOptions, 'ca' | 'cert' | 'key'> | undefined;
  /** Most connections open at once. @default 10 */
  readonly poolSize: number;
  /** Waiting longer than this for a free connection fails with UNAVAILABLE. @default 3000 */
  readonly acquireTimeoutMs: number;
  /** TCP connect timeout of one connection. @default 5000 */
  readonly connectTimeoutMs: number;
  /** A connection idle longer than this is pinged before use. @default 5000 */
  readonly validateAfterIdleMs?: number;
  readonly logger: Logger;
  /** Measures how long a connection sat idle. @default systemClock */
  readonly clock?: Clock;
}

export interface PoolStats {
  readonly size: number;
  readonly available: number;
  readonly borrowed: number;
  readonly pending: number;
  readonly max: number;
}

/** Query parameters: prepared statements only, so user data never becomes SQL text. */
export type Params = readonly (string | number | null)[];

/** Driver error codes that mean "the database is not reachable right now". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
]);

const CREATE_ATTEMPTS = 3;

/**
 * MySQL/MariaDB access: generic-pool owning single mysql2/promise connections (never a pool inside a
 * pool). Connections are validated (ping) on borrow when they sat idle, replaced after fatal errors, and
 * evicted when idle. Every failure to reach the database surfaces as AppError UNAVAILABLE.
 */
export class Database {
  private readonly pool: Pool<Connection>;
  private readonly lastUsed = new WeakMap<Connection, number>();
  private readonly connectionOptions: ConnectionOptions;
  private readonly clock: Clock;

  constructor(private readonly options: DatabaseOptions) {
    this.clock = options.clock ?? systemClock;
    const connectionOptions = parseUrl(options.url, options.connectTimeoutMs, options.tls);
    this.connectionOptions = connectionOptions;
    const validateAfter = options.validateAfterIdleMs ?? 5000;
    this.pool = createPool<Connection>(
      {
        create: () => this.connectWithRetry(connectionOptions),
        destroy: async (connection) => {
          try {
            await connection.end();
          } catch {
            connection.destroy();
          }
        },
        validate: async (connection) => {
          if (this.clock.now() - (this.lastUsed.get(connection) ?? 0) < validateAfter) return true;
          try {
            await connection.ping();
            return true;
          } catch {
            return false;
          }
        },
      },
      {
        max: options.poolSize,
        min: 0,
        testOnBorrow: true,
        acquireTimeoutMillis: options.acquireTimeoutMs,
        evictionRunIntervalMillis: 30_000,
        idleTimeoutMillis: 60_000,
      },
    );
    // generic-pool reports failed creates here; callers see them as acquire timeouts (UNAVAILABLE).
    this.pool.on('factoryCreateError', (error: unknown) =>
      options.logger.warn({ err: error }, 'MySQL connection failed'),
    );
  }

  /** The logger the pool reports to (the store's parts log through it too). */
  get logger(): Logger {
    return this.options.logger;
  }

  /** One direct connection attempt outside the pool: start-up checks get the driver's real error at once. */
  async probe(): Promise<void> {
    const connection = await mysql.createConnection(this.connectionOptions);
    try {
      await connection.query('SELECT 1');
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }

  /** Runs fn on one pooled connection. */
  async withConnection<T>(fn: (connection: Connection) => Promise<T>): Promise<T> {
    let connection: Connection;
    try {
      connection = await this.pool.acquire();
    } catch (error) {
      throw new AppError('UNAVAILABLE', 'database unreachable', { cause: error });
    }
    try {
      const result = await fn(connection);
      this.lastUsed.set(connection, this.clock.now());
      await this.pool.release(connection);
      return result;
    } catch (error) {
      if (isFatal(error)) await this.pool.destroy(connection);
      else {
        this.lastUsed.set(connection, this.clock.now());
        await this.pool.release(connection);
      }
      throw mapError(error);
    }
  }

  /** Runs fn in a transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (connection: Connection) => Promise<T>): Promise<T> {
    return this.withConnection(async (connection) => {
      await connection.query('START TRANSACTION');
      try {
        const result = await fn(connection);
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** A prepared statement on any pooled connection; returns the rows (or the result header for writes). */
  async execute<T>(sql: string, params: Params = []): Promise<T> {
    return this.withConnection(
      async (connection) => (await connection.execute(sql, params as never[]))[0] as T,
    );
  }

  /**
   * A statement with client-side parameter escaping, for statements whose placeholder count varies (batch
   * inserts, IN lists): as prepared statements each arity would be prepared and cached separately, which
   * exhausts the server's max_prepared_stmt_count. Values are still never spliced into SQL by us.
   */
  async query<T>(sql: string, params: Params = []): Promise<T> {
    return this.withConnection(
      async (connection) => (await connection.query(sql, params as never[]))[0] as T,
    );
  }

  stats(): PoolStats {
    return {
      size: this.pool.size,
      available: this.pool.available,
      borrowed: this.pool.borrowed,
      pending: this.pool.pending,
      max: this.pool.max,
    };
  }

  async close(): Promise<void> {
    await this.pool.drain();
    await this.pool.clear();
  }

  private async connectWithRetry(options: ConnectionOptions): Promise<Connection> {
    let lastError: unknown;
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      try {
        const connection = await mysql.createConnection(options);
        // An idle connection that breaks emits 'error'; without a listener that would crash the process.
        connection.on('error', (error: Error) =>
          this.options.logger.debug({ err: error }, 'MySQL connection error'),
        );
        this.lastUsed.set(connection, this.clock.now());
        return connection;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
    throw lastError;
  }
}

function parseUrl(url: string, connectTimeoutMs: number, tls: DatabaseOptions['tls']): ConnectionOptions {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new Error('MYSQL_URL: give a database name, e.g. mysql://user:pass@host:3306/parley');
  const ssl = sslOptions(parsed.searchParams.get('ssl'), tls);
  return {
    ...(ssl === undefined ? {} : { ssl }),
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database,
    charset: 'utf8mb4_unicode_ci',
    connectTimeout: connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: false,
    enableKeepAlive: true,
    keepAliveInitialDelay: 30_000,
    // No caller stack captured per statement (mysql2 builds one for every query in case it fails: ~2 % of a
    // busy node). Failures are mapped to AppErrors and logged with the statement's error code.
    trace: false,
    // One round trip per append batch (mysql-append-sql.ts: START TRANSACTION … COMMIT as one query). Every
    // value still travels as a `?` parameter, escaped by the driver, never spliced into SQL by us.
    multipleStatements: true,
    // mysql2's statement cache (lru.min) allocates its arrays for the whole capacity up front: at the
    // default 16 000 that is ~0.5 MB per pooled connection, idle (docs/BENCHMARKS.md, "Node baseline").
    // 2000 still holds every statement text a node prepares (batched `IN (…)` lists come in ≤ 500 sizes).
    maxPreparedStatements: 2000,
  };
}

/**
 * TLS to the database: on with `?ssl=true` (or `required`, `1`) or with any MYSQL_TLS_* file, always
 * verifying the chain and the host name (mysql2 checks neither the name by default nor, with
 * `rejectUnauthorized: false`, the chain). Undefined: plaintext.
 */
function sslOptions(param: string | null, tls: DatabaseOptions['tls']): SslOptions | undefined {
  const wanted = param === null ? undefined : SSL_PARAM[param.toLowerCase()];
  if (param !== null && wanted === undefined)
    throw new Error(`MYSQL_URL: ?ssl= must be true or false, not '${param}'`);
  if (wanted === false && tls !== undefined)
    throw new Error('MYSQL_URL: ?ssl=false contradicts the MYSQL_TLS_* settings; drop one of them');
  if (wanted !== true && tls === undefined) return undefined;
  return { ...tls, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' };
}

const SSL_PARAM: Readonly<Record<string, boolean>> = {
  true: true,
  required: true,
  '1': true,
  false: false,
  disabled: false,
  '0': false,
};

function driverCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isFatal(error: unknown): boolean {
  return (
    (typeof error === 'object' && error !== null && (error as { fatal?: boolean }).fatal === true) ||
    UNAVAILABLE_CODES.has(driverCode(error) ?? '')
  );
}

/** Connection-level failures become UNAVAILABLE; AppErrors pass through; anything else stays as it is. */
export function mapError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  if (isFatal(error)) return new AppError('UNAVAILABLE', 'database unreachable', { cause: error });
  return error;
}

/** True for a duplicate-key error, optionally on one named unique key. */
export function isDuplicate(error: unknown, key?: string): boolean {
  if (driverCode(error) !== 'ER_DUP_ENTRY') return false;
  const message = (error as { message?: unknown }).message;
  return key === undefined || (typeof message === 'string' && message.includes(key));
}
