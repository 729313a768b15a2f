import { parseArgs } from 'node:util';

/** One `--flag` of a command. Booleans default to false; `integer` and `number` are checked and converted. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean' | 'integer' | 'number';
  readonly description: string;
  readonly default?: string | number;
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** Placeholder shown in the help (`--clients <n>`). @default `<n>` for numbers, `<value>` for strings */
  readonly value?: string;
  /** A string flag that may be given several times; its value is the list (empty when not given). */
  readonly multiple?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What `--help` prints and how arguments are checked. */
export interface CommandSpec<O extends FlagSpecs = FlagSpecs> {
  /** Prefix of error lines (`migrate: unknown option --x`). */
  readonly name: string;
  /** The usage line after `Usage: `, e.g. `npm run migrate -- [options]`. */
  readonly usage: string;
  /** What the command does, a short paragraph. */
  readonly summary: string;
  readonly options: O;
  /** Positional arguments accepted (none when absent). */
  readonly positionals?: { readonly max: number };
  /** `-V, --version` prints what this returns. */
  readonly version?: () => string;
  /** Environment variables the command reads: name and meaning. */
  readonly env?: readonly (readonly [string, string])[];
  /** Paragraphs printed after the options. */
  readonly notes?: string;
}

type ValueOf<F extends FlagSpec> = F['type'] extends 'boolean'
  ? boolean
  : F extends { multiple: true }
    ? string[]
    : F['type'] extends 'integer' | 'number'
      ? F extends { default: number }
        ? number
        : number | undefined
      : F extends { default: string }
        ? string
        : string | undefined;

/** The parsed flags, typed from the specs: a flag with a default is never undefined. */
export type FlagValues<O extends FlagSpecs> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export interface ParsedCommandLine<O extends FlagSpecs> {
  readonly values: FlagValues<O>;
  readonly positionals: readonly string[];
  readonly help: boolean;
  readonly version: boolean;
}

/** A bad command line; the message is one line naming the argument. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const HELP: FlagSpec = { type: 'boolean', short: 'h', description: 'show this help and exit' };
const VERSION: FlagSpec = { type: 'boolean', short: 'V', description: 'print the version and exit' };

function allFlags(spec: CommandSpec): FlagSpecs {
  return { ...spec.options, help: HELP, ...(spec.version === undefined ? {} : { version: VERSION }) };
}

/** The option util.parseArgs names in its error (`'--foo'`, `'-x'`, `'--port <value>'`). */
function optionIn(message: string): string {
  return /'(-[^' ]+)/.exec(message)?.[1] ?? message;
}

/** Parses argv with util.parseArgs (strict); throws UsageError with a one-line reason. */
export function parseCommandLine<const O extends FlagSpecs>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): ParsedCommandLine<O> {
  const flags = allFlags(spec);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = {
      type: flag.type === 'boolean' ? 'boolean' : 'string',
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.multiple === true && flag.type === 'string' ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${optionIn(message)}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const option = optionIn(message);
      const takesValue = flags[option.replace(/^-+/, '')]?.type !== 'boolean';
      throw new UsageError(takesValue ? `option ${option} needs a value` : `option ${option} takes no value`);
    }
    throw new UsageError(message.split('\n')[0]);
  }
  const raw = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const help = raw.help === true;
  const version = raw.version === true;
  const max = spec.positionals?.max ?? 0;
  if (!help && !version && parsed.positionals.length > max) {
    const extra = parsed.positionals.slice(max).join(' ');
    throw new UsageError(
      max === 0 ? `unexpected argument '${extra}'` : `too many arguments (unexpected '${extra}')`,
    );
  }
  const values: Record<string, string | string[] | number | boolean | undefined> = {};
  for (const [name, flag] of Object.entries(spec.options)) {
    const given = raw[name];
    if (flag.type === 'boolean') {
      values[name] = given === true;
      continue;
    }
    if (flag.multiple === true && flag.type === 'string') {
      values[name] = Array.isArray(given) ? given : [];
      continue;
    }
    if (given === undefined) {
      values[name] = flag.default;
      continue;
    }
    const text = String(given);
    if (flag.type === 'string') {
      values[name] = text;
      continue;
    }
    const number = text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(number) || (flag.type === 'integer' && !Number.isInteger(number)))
      throw new UsageError(
        `--${name} needs ${flag.type === 'integer' ? 'a whole number' : 'a number'}, got '${text}'`,
      );
    values[name] = number;
  }
  return { values: values as FlagValues<O>, positionals: parsed.positionals, help, version };
}

function flagLabel(name: string, flag: FlagSpec): string {
  const long = `--${name}`;
  const placeholder =
    flag.type === 'boolean' ? '' : ` ${flag.value ?? (flag.type === 'string' ? '<value>' : '<n>')}`;
  return `${flag.short === undefined ? '    ' : `-${flag.short}, `}${long}${placeholder}`;
}

/** Two columns; a label longer than the column puts its text on the next line. */
function columns(rows: readonly (readonly [string, string])[], indent = 2, widest = 30): string[] {
  const width = Math.min(widest, Math.max(...rows.map(([label]) => label.length)));
  const pad = ' '.repeat(indent);
  return rows.flatMap(([label, text]) =>
    label.length <= width
      ? [`${pad}${label.padEnd(width)}  ${text}`.trimEnd()]
      : [`${pad}${label}`, `${pad}${' '.repeat(width)}  ${text}`],
  );
}

/** The text of `--help`: usage, summary, options with defaults, environment variables, notes. */
export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries(allFlags(spec)).map(([name, flag]): [string, string] => [
    flagLabel(name, flag),
    `${flag.description}${flag.multiple === true ? ' (repeatable)' : ''}` +
      (flag.default === undefined || flag.default === '' ? '' : ` (default: ${flag.default})`),
  ]);
  const sections = [`Usage: ${spec.usage}`, spec.summary, ['Options:', ...columns(rows)].join('\n')];
  if (spec.env && spec.env.length > 0) sections.push(['Environment:', ...columns(spec.env)].join('\n'));
  if (spec.notes) sections.push(spec.notes);
  return `${sections.join('\n\n')}\n`;
}

/** What an entry point needs to report and exit; process by default, injectable for tests. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly exit: (code: number) => never;
}

/**
 * For entry points: parses argv; prints the help (exit 0), the version (exit 0), or one line naming a bad
 * argument (exit 2, never a stack trace); otherwise returns the parsed values.
 */
export function runCommandLine<const O extends FlagSpecs>(
  spec: CommandSpec<O>,
  argv: readonly string[] = process.argv.slice(2),
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr, exit: (code) => process.exit(code) },
): ParsedCommandLine<O> {
  let parsed;
  try {
    parsed = parseCommandLine(spec, argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`${spec.name}: ${error.message} (see --help)\n`);
    return io.exit(2);
  }
  if (parsed.help) {
    io.stdout.write(commandHelp(spec));
    return io.exit(0);
  }
  if (parsed.version) {
    io.stdout.write(`${spec.version?.() ?? ''}\n`);
    return io.exit(0);
  }
  return parsed;
}
