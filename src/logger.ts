import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/** pino-pretty is loaded only for a terminal (about 3 MB a server under a supervisor never needs). */
const require = createRequire(import.meta.url);

export interface LoggerOptions {
  /** This node's id, on every line as `node` (NODE_ID). */
  readonly node?: string;
  /** Where lines go. @default process.stdout */
  readonly destination?: NodeJS.WritableStream;
  /** Readable lines (time, level, message) for a person at a terminal instead of JSON. @default false */
  readonly pretty?: boolean;
}

/**
 * One pino logger per process: JSON lines carrying `node`, credentials redacted wherever they appear in
 * logged objects; with `pretty` (the server sets it when stdout is a terminal) readable lines instead.
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  return pino(
    {
      level,
      redact: { paths: ['password', '*.password', 'token', '*.token', 'req.password'], censor: '[redacted]' },
      base: { pid: process.pid, ...(options.node === undefined ? {} : { node: options.node }) },
    },
    options.pretty
      ? (require('pino-pretty') as typeof PinoPretty)({
          destination,
          sync: true,
          colorize: destination === process.stdout && process.stdout.hasColors?.() === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,node,nodeId',
          messageFormat: options.node === undefined ? '{msg}' : `[${options.node}] {msg}`,
        })
      : destination,
  );
}
