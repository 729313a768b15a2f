import { inject } from 'vitest';

// The integration project's global setup never throws (that would stop every project); when it could not
// start MariaDB or Redis, each integration file fails here instead, naming the cause.
const error = inject('integrationSetupError');
if (error !== undefined) throw new Error(`integration servers did not start: ${error}`);
