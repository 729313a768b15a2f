import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `node [nodeArgs] file args` in the checkout; resolves with the exit code and both outputs. */
function run(
  nodeArgs: string[],
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const tsx = (file: string) => ['--import', 'tsx', file];

/** Every command of the README and package.json: how it is started, its name in errors, key options. */
const COMMANDS: { name: string; start: string[]; mentions: string[] }[] = [
  {
    name: 'parley',
    start: tsx('src/main.ts'),
    mentions: ['CHAT_PORT, --chat-port <n>  (default: 6000)', 'MYSQL_URL'],
  },
  {
    name: 'parley-client',
    start: ['bin/parley-client.mjs'],
    mentions: ['127.0.0.1 6000', '--user', '--exec'],
  },
  {
    name: 'migrate',
    start: tsx('scripts/migrate.ts'),
    mentions: ['--mysql-url <url>', '--status', 'MYSQL_URL'],
  },
  {
    name: 'cluster',
    start: tsx('scripts/cluster.ts'),
    mentions: ['--nodes <n>', '(default: 8000)', '--env <KEY=VALUE>', '--restart', 'BCRYPT_COST'],
  },
  { name: 'drill', start: tsx('scripts/drill.ts'), mentions: ['--clients <n>', '(default: 60)', '--keep'] },
  { name: 'npm test', start: tsx('scripts/test.ts'), mentions: ['--fast', '--no-install', 'apt-get'] },
  { name: 'bench:chat', start: tsx('bench/chat-embedded.ts'), mentions: ['--clients <n>', '--transport'] },
  { name: 'bench:cluster', start: tsx('bench/chat-cluster.ts'), mentions: ['--nodes <n>', '--storm'] },
  { name: 'bench:connections', start: tsx('bench/connections.ts'), mentions: ['--clients <n>', '--workers'] },
  { name: 'bench:kv', start: tsx('bench/kv-http.ts'), mentions: ['--seconds <s>', '--skip-http'] },
  { name: 'bench:store', start: tsx('bench/store-mysql.ts'), mentions: ['--pools', '--concurrency'] },
  { name: 'bench:commit-cost', start: tsx('bench/commit-cost.ts'), mentions: ['--count <n>'] },
];

// Concurrently: each case is a process start (tsx), mostly waiting.
describe.concurrent('every command explains itself', () => {
  it.for(COMMANDS)(
    '$name --help prints its usage and options and exits 0',
    async ({ start, mentions }, { expect }) => {
      const { code, stdout, stderr } = await run(start, ['--help']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: /);
      expect(stdout).toMatch(/-h, --help +show this help and exit/);
      for (const text of mentions) expect(stdout).toContain(text);
    },
  );

  // Parsing is one shared helper (unit-tested); these show the entry points of each kind use it.
  const someCommands = COMMANDS.filter(({ name }) =>
    ['parley', 'parley-client', 'migrate', 'cluster', 'bench:kv'].includes(name),
  );
  it.for(someCommands)(
    '$name refuses a bad flag in one line naming it, exit 2',
    async ({ name, start }, { expect }) => {
      const { code, stdout, stderr } = await run(start, ['--no-such-flag']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(`${name}: unknown option --no-such-flag (see --help)\n`);
    },
  );

  it('the server prints its version and exits 0', async ({ expect }) => {
    const { code, stdout } = await run(tsx('src/main.ts'), ['--version']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('the server and the client refuse an old Node.js in one line, before anything else', async ({
    expect,
  }) => {
    const fake = "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'18.19.0'})";
    for (const start of [tsx('src/main.ts'), ['bin/parley-client.mjs'], tsx('scripts/migrate.ts')]) {
      const { code, stdout, stderr } = await run(['--import', fake, ...start], ['--help']);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        'Parley needs Node.js 20.15 or newer; this is Node.js 18.19.0 (install Node 20 or 22: see "Node.js" in README.md)\n',
      );
    }
  });
});
