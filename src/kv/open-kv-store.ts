import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import type { EngineName } from './kv-engine.js';
import { KvLog, type FsyncPolicy } from './kv-log.js';
import { KvStore, type KvLimits } from './kv-store.js';

/** The KV store, replayed from KV_DATA_DIR's logs when persistence is on. */
export function openKvStore(
  limits: KvLimits,
  dataDir: string | undefined,
  fsync: FsyncPolicy,
  logger: Logger,
): { store: KvStore; close: () => void } {
  if (dataDir === undefined) return { store: new KvStore(limits), close: () => {} };
  mkdirSync(dataDir, { recursive: true });
  // Replay into a scratch store's engines, then hand the logs to the real one.
  const scratch = new KvStore(limits);
  const logs = {} as Record<EngineName, KvLog>;
  for (const name of ['array', 'hash', 'rbtree'] as const) {
    const { log, replayed, tornBytes } = KvLog.open(
      join(dataDir, `${name}.aof`),
      fsync,
      scratch.engines[name],
    );
    logs[name] = log;
    if (tornBytes > 0)
      logger.warn(
        { engine: name, tornBytes },
        'KV log ended in a torn record (crash mid-write); it was ignored',
      );
    logger.info({ engine: name, replayed, entries: scratch.engines[name].size }, 'KV log replayed');
  }
  const store = new KvStore(limits, logs, scratch.engines);
  return { store, close: () => Object.values(logs).forEach((log) => log.close()) };
}
