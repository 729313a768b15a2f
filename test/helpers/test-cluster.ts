import { afterAll, beforeAll } from 'vitest';
import { LocalCluster } from '../../scripts/lib/cluster.js';
import { LOAD_TEST_LIMITS } from '../../scripts/lib/load-test-env.js';

/**
 * Registers hooks that start a two-node cluster behind nginx (fast presence expiry, load-test limits) before
 * the suite and stop it after; read `current` in tests.
 */
export function useTwoNodeCluster(): { readonly current: LocalCluster } {
  const handle = {} as { current: LocalCluster };
  beforeAll(async () => {
    handle.current = await LocalCluster.start({
      nodes: 2,
      port: 0,
      env: { PRESENCE_TTL_MS: '3000', ...LOAD_TEST_LIMITS },
    });
  });
  afterAll(() => handle.current?.stop());
  return handle;
}
