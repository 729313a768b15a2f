import { pino, type Logger } from 'pino';

export type { Logger };

/** One pino logger per process; credentials are redacted wherever they appear in logged objects. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: { paths: ['password', '*.password', 'token', '*.token', 'req.password'], censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination ?? process.stdout,
  );
}
