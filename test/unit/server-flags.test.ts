import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS, serverArgs } from '../../scripts/lib/server-command.js';
import { ensureServerBuild } from '../../scripts/server-build.mjs';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

describe('server node flags', () => {
  it('npm start, npm run start:prod and the scripts start the server with the same V8 flags', () => {
    expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
    // `exec`: npm's SIGTERM reaches the server itself, not a shell that would leave it running.
    expect(scripts.start).toBe(`exec node ${SERVER_NODE_FLAGS.join(' ')} scripts/server.mjs`);
    expect(scripts['start:prod']).toBe(`exec node ${SERVER_NODE_FLAGS.join(' ')} dist/src/main.js`);
  });

  it('the systemd unit runs the command of npm run start:prod, the compiled server', () => {
    const unit = read('deploy/systemd/parley@.service');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const workingDirectory = /^WorkingDirectory=(.*)$/m.exec(unit)?.[1] ?? '';
    // node itself, not npm (npm would not pass SIGTERM on); the same flags and entry point.
    const [node, ...args] = scripts['start:prod']!.replace(/^exec /, '').split(' ');
    expect(node).toBe('node');
    expect(execStart).toBe(
      [
        '/usr/bin/node',
        ...args.map((arg) => (arg.startsWith('dist/') ? `${workingDirectory}/${arg}` : arg)),
      ].join(' '),
    );
  });

  it('runs the JavaScript build of the current sources (no tsx), node flags first, app arguments last', () => {
    const args = serverArgs(['--cpu-prof'], ['--chat-port', '0']);
    const entry = args.findIndex((arg) => arg.endsWith('/src/main.js'));
    expect(args[entry]).toBe(ensureServerBuild());
    expect(args[entry]).toMatch(/\/dist\/dev\/[0-9a-f]{16}\/src\/main\.js$/);
    expect(args.slice(0, entry)).toEqual([...SERVER_NODE_FLAGS, '--cpu-prof']);
    expect(args.slice(entry + 1)).toEqual(['--chat-port', '0']);
  });
});
