import { describe, expect, it } from 'vitest';
import {
  commandHelp,
  parseCommandLine,
  runCommandLine,
  UsageError,
  type CommandIo,
} from '../../../src/util/command-line.js';

const spec = {
  name: 'demo',
  usage: 'npm run demo -- [options]',
  summary: 'Does a demo.',
  options: {
    clients: { type: 'integer', default: 60, description: 'chatting clients' },
    share: { type: 'number', default: 0.5, description: 'a fraction' },
    json: { type: 'string', value: '<file>', description: 'write JSON here' },
    keep: { type: 'boolean', description: 'keep everything' },
    env: { type: 'string', multiple: true, value: '<KEY=VALUE>', description: 'pass a variable on' },
  },
  env: [['DEMO_PREFIX', 'a prefix']],
} as const;

/** An io whose exit throws, so a test sees the code and everything written before it. */
function capture(): CommandIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: { write: (text: string) => (io.out += text) },
    stderr: { write: (text: string) => (io.err += text) },
    exit: (code: number): never => {
      throw new Error(`exit ${code}`);
    },
  };
  return io;
}

describe('parseCommandLine', () => {
  it('applies defaults and converts numbers', () => {
    expect(parseCommandLine(spec, []).values).toEqual({
      clients: 60,
      share: 0.5,
      json: undefined,
      keep: false,
      env: [],
    });
    const { values } = parseCommandLine(spec, [
      '--clients',
      '7',
      '--share=0.25',
      '--json',
      'out.json',
      '--keep',
      '--env',
      'A=1',
      '--env',
      'B=2',
    ]);
    expect(values).toEqual({ clients: 7, share: 0.25, json: 'out.json', keep: true, env: ['A=1', 'B=2'] });
  });

  it('names the bad argument in one line', () => {
    const reason = (argv: string[]) => {
      try {
        parseCommandLine(spec, argv);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      return 'no error';
    };
    expect(reason(['--bogus'])).toBe('unknown option --bogus');
    expect(reason(['-x'])).toBe('unknown option -x');
    expect(reason(['--json'])).toBe('option --json needs a value');
    expect(reason(['--keep=yes'])).toBe('option --keep takes no value');
    expect(reason(['--clients', 'many'])).toBe("--clients needs a whole number, got 'many'");
    expect(reason(['--clients', '1.5'])).toBe("--clients needs a whole number, got '1.5'");
    expect(reason(['--share', ''])).toBe("--share needs a number, got ''");
    expect(reason(['stray'])).toBe("unexpected argument 'stray'");
  });

  it('accepts positionals only up to the declared number', () => {
    const two = { ...spec, positionals: { max: 2 } };
    expect(parseCommandLine(two, ['host', '6000']).positionals).toEqual(['host', '6000']);
    expect(() => parseCommandLine(two, ['host', '6000', 'extra'])).toThrow(
      "too many arguments (unexpected 'extra')",
    );
  });
});

describe('commandHelp and runCommandLine', () => {
  it('lists every option with its default, the environment and --help', () => {
    const help = commandHelp(spec);
    expect(help).toMatch(/^Usage: npm run demo -- \[options\]\n\nDoes a demo\./);
    expect(help).toMatch(/--clients <n> +chatting clients \(default: 60\)/);
    expect(help).toMatch(/--json <file> +write JSON here\n/);
    expect(help).toMatch(/--env <KEY=VALUE> +pass a variable on \(repeatable\)/);
    expect(help).toMatch(/-h, --help +show this help and exit/);
    expect(help).toMatch(/Environment:\n {2}DEMO_PREFIX +a prefix/);
    expect(help).not.toContain('--version');
  });

  it('prints the help and exits 0', () => {
    const io = capture();
    expect(() => runCommandLine(spec, ['--help'], io)).toThrow('exit 0');
    expect(io.out).toBe(commandHelp(spec));
    expect(io.err).toBe('');
  });

  it('prints the version when the command has one', () => {
    const io = capture();
    expect(() => runCommandLine({ ...spec, version: () => '1.2.3' }, ['-V'], io)).toThrow('exit 0');
    expect(io.out).toBe('1.2.3\n');
  });

  it('says what is wrong in one line on stderr and exits 2', () => {
    const io = capture();
    expect(() => runCommandLine(spec, ['--clients'], io)).toThrow('exit 2');
    expect(io.err).toBe('demo: option --clients needs a value (see --help)\n');
    expect(io.out).toBe('');
  });

  it('returns the values when the arguments are good', () => {
    expect(runCommandLine(spec, ['--keep'], capture()).values.keep).toBe(true);
  });
});
