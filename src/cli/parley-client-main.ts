import { InteractiveClient } from './interactive.js';
import { INSECURE_WARNING, parseCliOptions, UsageError, USAGE } from './options.js';
import { runScripted } from './scripted.js';

/** Entry point of `parley-client`: interactive on a terminal, scripted otherwise (or with --exec). */
export async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseCliOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`parley-client: ${error.message} (see --help)\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.tls?.rejectUnauthorized === false) process.stderr.write(`parley-client: ${INSECURE_WARNING}\n`);
  if (options.exec !== undefined || !process.stdin.isTTY)
    return runScripted(options, process.stdin, process.stdout, process.stderr);
  return new InteractiveClient(options, process.stdin, process.stdout).run();
}

process.exitCode = await main(process.argv.slice(2));
