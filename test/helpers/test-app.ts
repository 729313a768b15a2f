import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { LOAD_TEST_LIMITS } from '../../scripts/lib/load-test-env.js';

/** Starts a real node on free ports (embedded mode, cheap bcrypt, silent logs). */
export async function startTestApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const config = loadConfig({
    CHAT_HOST: '127.0.0.1',
    CHAT_PORT: '0',
    ADMIN_PORT: '0',
    BCRYPT_COST: '4',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_GRACE_MS: '500',
    LOGIN_BURST: '50',
    LOGIN_RATE_PER_S: '50',
    ...LOAD_TEST_LIMITS,
    ...env,
  });
  return startApp(config, createLogger(config.LOG_LEVEL));
}
