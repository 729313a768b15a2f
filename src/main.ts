import { ConfigError, loadConfig } from './config.js';
import { startApp } from './app.js';
import { StartupError } from './errors.js';
import { createLogger } from './logger.js';

/** Entry point: `npm start [-- --chat-port 7000 …]`. Exit codes: 0 clean stop, 1 start-up failure, 2 bad config. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`parley: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.LOG_LEVEL);
  let app;
  try {
    app = await startApp(config, logger);
  } catch (error) {
    if (error instanceof StartupError) {
      logger.fatal(error.message);
      process.stderr.write(`parley: ${error.message}\n`);
    } else {
      logger.fatal({ err: error }, 'start-up failed');
    }
    logger.flush();
    process.exitCode = 1;
    return;
  }
  const running = app;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    // A hard deadline over the whole shutdown, in case something hangs.
    setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 10_000).unref();
    running.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

await main();
