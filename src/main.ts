// First: refuses an old Node.js in one line before any other module loads.
import './require-node.js';
import { ConfigError, loadConfig, serverCommand } from './config.js';
import { configHelp } from './config-help.js';
import { startApp } from './app.js';
import { StartupError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { packageVersion } from './package-info.js';
import { parseCommandLine, UsageError } from './util/command-line.js';

/** Exits now with `code`, after the log lines written so far are out. */
function exitNow(logger: Logger, code: number): never {
  logger.flush();
  process.exit(code);
}

/**
 * Entry point: `npm start [-- --chat-port 7000 …]` (`--help` lists every setting). Exit codes: 0 clean stop
 * (or --help/--version), 1 start-up failure, 2 bad configuration or flag.
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let config;
  try {
    const { help, version } = parseCommandLine(serverCommand, argv);
    if (help || version) {
      process.stdout.write(help ? configHelp() : `${packageVersion()}\n`);
      return;
    }
    config = loadConfig(process.env, argv);
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof UsageError)) throw error;
    process.stderr.write(`parley: ${error.message}${error instanceof UsageError ? ' (see --help)' : ''}\n`);
    process.exit(2);
  }
  // Readable lines for a person at a terminal; JSON lines for files, pipes and journald.
  const logger = createLogger(config.LOG_LEVEL, { node: config.NODE_ID, pretty: process.stdout.isTTY });
  let app;
  try {
    app = await startApp(config, logger);
  } catch (error) {
    // startApp has unwound what it opened. Exit explicitly all the same: a start-up failure must never
    // leave a process that looks alive to its supervisor (a forgotten handle would keep the loop running).
    if (error instanceof StartupError) {
      logger.fatal(error.message);
      process.stderr.write(`parley: ${error.message}\n`);
    } else {
      logger.fatal({ err: error }, 'start-up failed');
    }
    exitNow(logger, 1);
  }
  const running = app;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    // A hard deadline over the whole shutdown, in case something hangs.
    setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      exitNow(logger, 1);
    }, config.SHUTDOWN_GRACE_MS + 10_000).unref();
    running.stop().then(
      () => {
        logger.info('stopped');
        exitNow(logger, 0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitNow(logger, 1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

await main();
