import type { z } from 'zod';
import { configSchema, flagName } from './config.js';

/** The schema under `.default()`, `.optional()` and transforms, where the value's kind is. */
function inner(schema: z.ZodType): z.ZodType {
  const def = schema.def as { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType };
  if ((def.type === 'default' || def.type === 'optional') && def.innerType) return inner(def.innerType);
  // A preprocess is a pipe from a transform into the real type; a transform after a type pipes the other way.
  if (def.type === 'pipe' && def.in && def.out) {
    return inner((def.in.def as { type: string }).type === 'transform' ? def.out : def.in);
  }
  return schema;
}

/** `<n>` for numbers, the choices of an enum, `<url>` for URLs, `<value>` otherwise. */
function placeholder(key: string, schema: z.ZodType): string {
  const def = inner(schema).def as { type: string; entries?: Record<string, string> };
  if (def.type === 'enum' && def.entries) return `<${Object.values(def.entries).join('|')}>`;
  if (def.type === 'number') return '<n>';
  if (key.endsWith('_URL')) return '<url>';
  return '<value>';
}

/** The default as a person reads it: the schema's default, a computed one (`defaultText`), or unset. */
function shownDefault(schema: z.ZodType): string {
  const text = (schema.meta() as { defaultText?: unknown } | undefined)?.defaultText;
  if (typeof text === 'string') return text;
  const parsed = schema.safeParse(undefined);
  // Every default in the schema is a string, a number or a boolean.
  return parsed.success && parsed.data !== undefined
    ? JSON.stringify(parsed.data).replace(/^"|"$/g, '')
    : 'unset';
}

/** `npm start -- --help`: every setting of the config schema with its flag, default and meaning. */
export function configHelp(): string {
  const settings = Object.entries(configSchema.shape).flatMap(([key, field]) => {
    const schema = field as z.ZodType;
    return [
      `  ${key}, --${flagName(key)} ${placeholder(key, schema)}  (default: ${shownDefault(schema)})`,
      `      ${schema.description ?? ''}`,
    ];
  });
  return `Usage: npm start -- [options]            (the current sources, built on demand)
       npm run start:prod -- [options]   (compiled: npm run build first)

Parley chat server: chat on CHAT_HOST:CHAT_PORT (JSON over TCP and WebSocket at /ws), the admin HTTP
plane on ADMIN_HOST:ADMIN_PORT. Every setting is an environment variable or the flag beside it, and flags
win: CHAT_PORT=7000 npm start, or npm start -- --chat-port 7000. A bad value stops the server before it
opens a socket (exit 2). Without MYSQL_URL and REDIS_URL it runs one node with data in memory.

Settings:
${settings.join('\n')}

Options:
  -h, --help     show this help and exit
  -V, --version  print the version and exit
`;
}
