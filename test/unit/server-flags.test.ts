import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS, serverArgs } from '../../scripts/lib/server-command.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('server node flags', () => {
  it('npm start, the systemd unit and the scripts start the server with the same V8 flags', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    const execStart = /^ExecStart=(.*)$/m.exec(read('deploy/systemd/parley@.service'))?.[1] ?? '';
    expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of SERVER_NODE_FLAGS) {
      expect(start.split(' ')).toContain(flag);
      expect(execStart.split(' ')).toContain(flag);
    }
  });

  it('puts node flags before the entry point and app arguments after it', () => {
    const args = serverArgs(['--cpu-prof'], ['--chat-port', '0']);
    const entry = args.indexOf('src/main.ts');
    expect(args.slice(0, entry)).toEqual([...SERVER_NODE_FLAGS, '--cpu-prof', '--import', 'tsx']);
    expect(args.slice(entry + 1)).toEqual(['--chat-port', '0']);
  });
});
