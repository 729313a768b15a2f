import type { TestProject } from 'vitest/node';
import { MariaDb } from '../scripts/lib/mariadb.js';
import { RedisServer } from '../scripts/lib/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Root URL (no database) of the MariaDB shared by the integration tests. */
    mariadbUrl: string;
    /** URL of the Redis shared by the integration tests (tests use their own key prefixes). */
    redisUrl: string;
    /** Why the servers could not start (test/integration-guard.ts fails each file with it). */
    integrationSetupError: string | undefined;
  }
}

/**
 * Starts one private MariaDB and one Redis for the integration project; tests create their own databases
 * and prefixes. Never throws: a failure here would stop every project, so it is handed to the
 * integration files instead.
 */
// vitest calls the default export of a globalSetup file.
// eslint-disable-next-line no-restricted-syntax
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [db, kv] = await Promise.allSettled([MariaDb.start(), RedisServer.start()]);
  const mariadb = db.status === 'fulfilled' ? db.value : undefined;
  const redis = kv.status === 'fulfilled' ? kv.value : undefined;
  const failures = [db, kv].flatMap((result) =>
    result.status === 'rejected'
      ? [result.reason instanceof Error ? result.reason.message : String(result.reason)]
      : [],
  );
  project.provide('integrationSetupError', failures.length > 0 ? failures.join('; ') : undefined);
  project.provide('mariadbUrl', mariadb?.url ?? '');
  project.provide('redisUrl', redis?.url ?? '');
  return async () => {
    await Promise.all([mariadb?.destroy(), redis?.destroy()]);
  };
}
