import type { TestProject } from 'vitest/node';
import { MariaDb } from '../scripts/lib/mariadb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Root URL (no database) of the MariaDB shared by the integration tests. */
    mariadbUrl: string;
  }
}

/** Starts one private MariaDB for the integration project; every test file creates its own databases. */
// vitest calls the default export of a globalSetup file.
// eslint-disable-next-line no-restricted-syntax
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mariadb = await MariaDb.start();
  project.provide('mariadbUrl', mariadb.url);
  return () => mariadb.destroy();
}
