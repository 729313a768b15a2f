/**
 * `npm run migrate` — applies pending migrations from sql/ to MYSQL_URL (or --mysql-url URL).
 * Safe to run while nodes start: a database lock makes concurrent runs wait for each other.
 */
import { readPemFiles } from '../src/util/tls-files.js';
import '../src/require-node.js';
import { createLogger } from '../src/logger.js';
import { loadMigrations, migrate, migrationStatus } from '../src/model/migrator.js';
import { Database } from '../src/model/mysql-database.js';
import { MIGRATIONS_DIR } from '../src/model/open-mysql-store.js';
import { runCommandLine } from '../src/util/command-line.js';

const { values } = runCommandLine({
  name: 'migrate',
  usage: 'npm run migrate -- [options]     (compiled: node dist/scripts/migrate.js [options])',
  summary: `Applies the pending migrations in sql/ to a MySQL/MariaDB database (forward-only; a migration
that was edited after it was applied is refused). Safe while nodes start: a database lock makes
concurrent runs wait for each other.`,
  options: {
    'mysql-url': { type: 'string', value: '<url>', description: 'the database (default: $MYSQL_URL)' },
    status: { type: 'boolean', description: 'list applied and pending migrations; change nothing' },
  },
  env: [
    ['MYSQL_URL', 'mysql://user:pass@host:3306/db, when --mysql-url is not given'],
    ['MYSQL_TLS_CA', 'CA file for MySQL TLS (and MYSQL_TLS_CERT / MYSQL_TLS_KEY), as for the server'],
  ],
});
const url = values['mysql-url'] ?? process.env.MYSQL_URL;
if (!url) {
  process.stderr.write('migrate: set MYSQL_URL (mysql://user:pass@host:3306/db) or pass --mysql-url\n');
  process.exit(2);
}
// The same TLS files as the server (MYSQL_TLS_CA/CERT/KEY), so a private CA or client certificate works here too.
let pem;
try {
  pem = readPemFiles({
    MYSQL_TLS_CA: process.env.MYSQL_TLS_CA,
    MYSQL_TLS_CERT: process.env.MYSQL_TLS_CERT,
    MYSQL_TLS_KEY: process.env.MYSQL_TLS_KEY,
  });
} catch (error) {
  process.stderr.write(`migrate: ${(error as Error).message}\n`);
  process.exit(1);
}
const db = new Database({
  url,
  tls:
    (pem.MYSQL_TLS_CA ?? pem.MYSQL_TLS_CERT) === undefined
      ? undefined
      : { ca: pem.MYSQL_TLS_CA, cert: pem.MYSQL_TLS_CERT, key: pem.MYSQL_TLS_KEY },
  poolSize: 1,
  acquireTimeoutMs: 10_000,
  connectTimeoutMs: 5000,
  logger: createLogger('warn'),
});
try {
  const migrations = await loadMigrations(MIGRATIONS_DIR);
  if (values.status) {
    const status = await migrationStatus(db, migrations);
    console.log(
      `applied: ${status.applied.join(', ') || 'none'}; pending: ${status.pending.map((m) => m.name).join(', ') || 'none'}`,
    );
  } else {
    const applied = await migrate(db, migrations);
    console.log(
      applied.length > 0 ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'schema is up to date',
    );
  }
} catch (error) {
  const cause = (error as { cause?: { code?: string } }).cause;
  process.stderr.write(
    `migrate: ${error instanceof Error ? error.message : String(error)}${cause?.code ? ` (${cause.code})` : ''}\n`,
  );
  process.exitCode = 1;
} finally {
  await db.close();
}
