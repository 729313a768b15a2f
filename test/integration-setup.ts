import type { TestProject } from 'vitest/node';
import { MariaDb } from '../scripts/lib/mariadb.js';
import { RedisServer } from '../scripts/lib/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Root URL (no database) of the MariaDB shared by the integration tests. */
    mariadbUrl: string;
    /** URL of the Redis shared by the integration tests (tests use their own key prefixes). */
    redisUrl: string;
  }
}

/** Starts one private MariaDB and one Redis for the integration project; tests create their own databases and prefixes. */
// vitest calls the default export of a globalSetup file.
// eslint-disable-next-line no-restricted-syntax
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [mariadb, redis] = await Promise.all([MariaDb.start(), RedisServer.start()]);
  project.provide('mariadbUrl', mariadb.url);
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([mariadb.destroy(), redis.destroy()]);
  };
}
