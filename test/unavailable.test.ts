import { inject, it } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by vitest.config.ts for a project that cannot run here: the Debian packages it lacks. */
    unavailable: { packages: string[]; install: string };
  }
}

// Stands in for the files of a project whose Debian packages are missing (vitest.config.ts), so the
// project counts as failed, once, with the reason, while the other projects run.
const { packages, install } = inject('unavailable');

it(`cannot run here: needs ${packages.join(', ')}`, () => {
  throw new Error(`missing Debian packages: ${packages.join(' ')}; install with: ${install}`);
});
