import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { Database } from './mysql-database.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationStatus {
  readonly applied: readonly number[];
  readonly pending: readonly Migration[];
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const LOCK_NAME = 'parley_schema_migrations';
const LOCK_TIMEOUT_S = 60;

/** Reads `NNN_name.sql` files in version order. */
export async function loadMigrations(directory: string): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const sql = await readFile(join(directory, file), 'utf8');
    const version = Number(file.split('_')[0]);
    if (migrations.some((m) => m.version === version))
      throw new MigrationError(`two migrations with version ${version}`);
    migrations.push({ version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/**
 * Forward-only migrations. A named lock (GET_LOCK) lets several nodes start at once: one applies, the
 * others wait and then find nothing pending. An applied file whose checksum changed is an error.
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<Migration[]> {
  return db.withConnection(async (connection) => {
    const [[lock]] = (await connection.query('SELECT GET_LOCK(?, ?) AS ok', [
      LOCK_NAME,
      LOCK_TIMEOUT_S,
    ])) as unknown as [{ ok: number | null }[]];
    if (lock?.ok !== 1)
      throw new MigrationError(`could not take the migration lock within ${LOCK_TIMEOUT_S} s`);
    try {
      await ensureTable(connection);
      const applied = await appliedChecksums(connection);
      verify(migrations, applied);
      const done: Migration[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        for (const statement of splitStatements(migration.sql)) await connection.query(statement);
        await connection.execute('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        done.push(migration);
      }
      return done;
    } finally {
      await connection.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  });
}

/** What is applied and what is pending; throws on a changed applied file. */
export async function migrationStatus(
  db: Database,
  migrations: readonly Migration[],
): Promise<MigrationStatus> {
  return db.withConnection(async (connection) => {
    await ensureTable(connection);
    const applied = await appliedChecksums(connection);
    verify(migrations, applied);
    return {
      applied: [...applied.keys()].sort((a, b) => a - b),
      pending: migrations.filter((m) => !applied.has(m.version)),
    };
  });
}

async function ensureTable(connection: Connection): Promise<void> {
  await connection.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INT NOT NULL PRIMARY KEY,
       name VARCHAR(200) NOT NULL,
       checksum CHAR(64) NOT NULL,
       applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
     ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4`,
  );
}

async function appliedChecksums(connection: Connection): Promise<Map<number, string>> {
  const [rows] = (await connection.query('SELECT version, checksum FROM schema_migrations')) as unknown as [
    { version: number; checksum: string }[],
  ];
  return new Map(rows.map((r) => [r.version, r.checksum]));
}

function verify(migrations: readonly Migration[], applied: Map<number, string>): void {
  for (const migration of migrations) {
    const checksum = applied.get(migration.version);
    if (checksum !== undefined && checksum !== migration.checksum) {
      throw new MigrationError(
        `migration ${migration.name} was changed after it was applied; add a new migration instead`,
      );
    }
  }
}

/**
 * Splits a migration file into statements: each ends with the delimiter at the end of a line — `;`
 * unless a `DELIMITER x` line changed it, as the mysql client does, so a procedure body keeps its own
 * `;`. Lines starting with `--` are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let delimiter = ';';
  let lines: string[] = [];
  const finish = () => {
    const statement = lines.join('\n').trim();
    if (statement.length > 0) statements.push(statement);
    lines = [];
  };
  for (const line of sql.split('\n')) {
    const trimmed = line.trimEnd();
    const directive = /^\s*DELIMITER\s+(\S+)\s*$/i.exec(trimmed);
    if (directive) {
      finish();
      delimiter = directive[1]!;
    } else if (trimmed.trimStart().startsWith('--')) {
      continue;
    } else if (trimmed.endsWith(delimiter)) {
      lines.push(trimmed.slice(0, trimmed.length - delimiter.length));
      finish();
    } else {
      lines.push(line);
    }
  }
  finish();
  return statements;
}
