import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { parseCommand } from '../../src/cli/commands.js';
import { ParleyClient } from '../../src/client/parley-client.js';
import { CliProcess } from '../helpers/cli-process.js';
import { startTestApp } from '../helpers/test-app.js';
import { tcpProxy } from '../helpers/tcp-proxy.js';

// Every client of this file, the spawned parley-clients and those in this process, shares one device name
// kept here instead of in the home directory: a second login of a user takes the first over, as a second
// client on one machine does.
const configHome = mkdtempSync(join(tmpdir(), 'parley-cli-config-'));
process.env.XDG_CONFIG_HOME = configHome;

let app: RunningApp;
let port: string;
beforeAll(async () => {
  app = await startTestApp();
  port = String(app.chatPort);
});
afterAll(() => app.stop());

const pw = { PARLEY_PASSWORD: 'pw' };

async function account(name: string): Promise<number> {
  const client = new ParleyClient({
    host: '127.0.0.1',
    port: app.chatPort,
    transport: 'tcp',
    reconnect: false,
  });
  await client.connect();
  const id = await client.register(name, 'pw');
  client.close();
  return id;
}

describe('parley-client command syntax', () => {
  it('parses the ancestor commands and says the right syntax for wrong ones', () => {
    expect(parseCommand('chat:2:hello: with colons')).toEqual({
      ok: true,
      command: { kind: 'chat', to: 2, text: 'hello: with colons' },
    });
    expect(parseCommand('creategroup:team:')).toEqual({
      ok: true,
      command: { kind: 'creategroup', name: 'team', desc: '' },
    });
    expect(parseCommand('history:g:3')).toEqual({
      ok: true,
      command: { kind: 'history', target: { groupid: 3 } },
    });
    expect(parseCommand('HELP')).toEqual({ ok: true, command: { kind: 'help' } });
    expect(parseCommand('chat:abc:hi')).toEqual({
      ok: false,
      error: 'chat command invalid! usage: chat:friendid:message',
    });
    expect(parseCommand('groupchat:1')).toMatchObject({
      ok: false,
      error: expect.stringContaining('groupchat:groupid:message'),
    });
    expect(parseCommand('addfriend:0')).toMatchObject({ ok: false });
    expect(parseCommand('nonsense')).toMatchObject({
      ok: false,
      error: expect.stringContaining('invalid input command'),
    });
  });
});

describe('parley-client, scripted', () => {
  it('lets two scripted clients chat 1:1 and in a group', async () => {
    const bobId = await account('s-bob');
    const alice = CliProcess.run(
      ['127.0.0.1', port, '--user', 's-alice', '--register', '--exec', 'creategroup:s-team:desc'],
      pw,
    );
    expect(await alice.exited).toBe(0);
    const groupid = Number(/group s-team created, groupid is (\d+)/.exec(alice.output)![1]);
    const again = CliProcess.run(
      ['127.0.0.1', port, '--user', 's-alice', '--exec', `addgroup:${groupid}`],
      pw,
    );
    expect(await again.exited).toBe(1); // already the creator: a clear error, non-zero exit
    expect(again.output).toMatch(/already a member of this group \(ALREADY_MEMBER\)/);
    const bobJoins = CliProcess.run(
      ['127.0.0.1', port, '--user', 's-bob', '--exec', `addgroup:${groupid}`],
      pw,
    );
    expect(await bobJoins.exited).toBe(0);

    const bob = CliProcess.run(['127.0.0.1', port, '--user', 's-bob', '--json', '--exec', 'wait:2'], pw);
    await bob.waitFor('"event":"login"');
    const talk = CliProcess.run(
      [
        '127.0.0.1',
        port,
        '--user',
        's-alice',
        '--exec',
        `chat:${bobId}:hello: bob; groupchat:${groupid}:hi group`,
      ],
      pw,
    );
    expect(await talk.exited).toBe(0);
    expect(await bob.exited).toBe(0);
    const events = bob.output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'message').map((e) => [e.msg, e.groupid])).toEqual([
      ['hello: bob', undefined],
      ['hi group', groupid],
    ]);
  });

  it('fails clearly (exit 1) when the account logs in elsewhere during a script', async () => {
    await account('s-hank');
    const waiting = CliProcess.run(['127.0.0.1', port, '--user', 's-hank', '--exec', 'wait:5'], pw);
    await waiting.waitFor('login ok');
    const other = CliProcess.run(['127.0.0.1', port, '--user', 's-hank', '--exec', 'friends'], pw);
    expect(await other.exited).toBe(0);
    expect(await waiting.exited).toBe(1);
    expect(waiting.output).toMatch(/logged in elsewhere \(KICKED\)/);
  });

  it('exits 1 at once when the account logs in elsewhere while the script waits for its next line', async () => {
    await account('s-ivan');
    const idle = CliProcess.run(['127.0.0.1', port, '--user', 's-ivan'], pw);
    await idle.waitFor('login ok');
    // stdin stays open and empty: only the takeover can end this run.
    const other = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await other.connect();
    await other.login({ name: 's-ivan' }, 'pw');
    expect(await idle.exited).toBe(1);
    expect(idle.output).toContain('kicked: this account logged in elsewhere');
    expect(idle.output).toContain('parley-client: this account logged in elsewhere (KICKED)');
    other.close();
  });

  it('prints the login line before waiting messages, and a one-command run acks what it printed', async () => {
    const franId = await account('s-fran');
    const sender = CliProcess.run(
      [
        '127.0.0.1',
        port,
        '--user',
        's-gus',
        '--register',
        '--exec',
        `chat:${franId}:first;chat:${franId}:second`,
      ],
      pw,
    );
    expect(await sender.exited).toBe(0);
    const once = CliProcess.run(['127.0.0.1', port, '--user', String(franId), '--exec', 'friends'], pw);
    expect(await once.exited).toBe(0);
    const login = once.output.indexOf('login ok');
    expect(login).toBeGreaterThan(-1);
    expect(once.output.indexOf('first')).toBeGreaterThan(login);
    expect(once.output).toContain('second');
    // The next run has nothing old to show: the first one's ack reached the server before it closed.
    const again = CliProcess.run(['127.0.0.1', port, '--user', String(franId), '--exec', 'friends'], pw);
    expect(await again.exited).toBe(0);
    expect(again.output).toContain('login ok');
    expect(again.output).not.toContain('first');
  });

  it('delivers a message sent while the recipient was offline at its next login, read from stdin', async () => {
    const daveId = await account('s-dave');
    const sender = CliProcess.run(
      ['127.0.0.1', port, '--user', 's-erin', '--register', '--exec', `chat:${daveId}:while you were away`],
      pw,
    );
    expect(await sender.exited).toBe(0);
    const dave = CliProcess.run(['127.0.0.1', port, '--user', String(daveId)], pw);
    dave.write('wait:1\nfriends\n');
    dave.child.stdin.end();
    expect(await dave.exited).toBe(0);
    expect(dave.output).toMatch(/message \S+ \S+ \[\d+\]s-erin said:\n {4}while you were away/);
    expect(dave.output).toContain('(no friends yet');
  });

  it('exits 1 with a clear message on a wrong password, and never echoes the password', async () => {
    await account('s-frank');
    const wrong = CliProcess.run(['127.0.0.1', port, '--user', 's-frank', '--exec', 'friends'], {
      PARLEY_PASSWORD: 'not-the-password',
    });
    expect(await wrong.exited).toBe(1);
    expect(wrong.output).toMatch(/parley-client: id or password is invalid! \(AUTH_BAD_CREDENTIALS\)/);
    expect(wrong.output).not.toContain('not-the-password');
    const missing = CliProcess.run(['127.0.0.1', port, '--exec', 'friends']);
    expect(await missing.exited).toBe(1);
    expect(missing.output).toMatch(/needs --user and a password/);
  });

  it('generates its device name once, keeps it in $XDG_CONFIG_HOME/parley/device, and takes --device', async () => {
    await account('s-dev');
    const first = CliProcess.run(['127.0.0.1', port, '--user', 's-dev', '--exec', 'devices'], pw);
    expect(await first.exited).toBe(0);
    const stored = readFileSync(join(configHome, 'parley', 'device'), 'utf8').trim();
    expect(first.output).toContain(`this device: ${stored}`);
    const named = CliProcess.run(
      ['127.0.0.1', port, '--user', 's-dev', '--device', 'phone-2', '--json', '--exec', 'devices'],
      pw,
    );
    expect(await named.exited).toBe(0);
    expect(named.output).toContain('{"event":"device","device":"phone-2"}');
    const bad = CliProcess.run(['127.0.0.1', port, '--device', 'my phone']);
    expect(await bad.exited).toBe(2);
    expect(bad.output).toMatch(/--device must be 1-64 characters/);
  });

  it('exits 1 naming the right syntax for an invalid command, and 2 for bad arguments', async () => {
    await account('s-gina');
    const bad = CliProcess.run(['127.0.0.1', port, '--user', 's-gina', '--exec', 'chat:nobody'], pw);
    expect(await bad.exited).toBe(1);
    expect(bad.output).toContain('usage: chat:friendid:message');
    const args = CliProcess.run(['127.0.0.1', '99999']);
    expect(await args.exited).toBe(2);
    expect(args.output).toMatch(/port must be 1-65535/);
    const down = CliProcess.run(['127.0.0.1', '1', '--user', 'x', '--exec', 'friends'], pw);
    expect(await down.exited).toBe(1);
    expect(down.output).toMatch(/cannot connect to 127.0.0.1:1/);
  });
});

describe('parley-client, failover', () => {
  it('reconnects, resumes without a password prompt and shows every message once, in order', async () => {
    const proxy = await tcpProxy(app.chatPort);
    const ivyId = await account('f-ivy');
    const ivy = CliProcess.run(['127.0.0.1', String(proxy.port), '--user', 'f-ivy', '--exec', 'wait:6'], pw);
    await ivy.waitFor('login ok');
    const sender = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await sender.connect();
    await sender.register('f-jay', 'pw');
    await sender.login({ name: 'f-jay' }, 'pw');
    for (let i = 1; i <= 3; i++) await sender.sendTo(ivyId, `before ${i}`);
    await ivy.waitFor('before 3');
    proxy.cut();
    for (let i = 1; i <= 3; i++) await sender.sendTo(ivyId, `after ${i}`);
    expect(await ivy.exited).toBe(0);
    expect(ivy.output).toContain('reconnecting');
    expect(ivy.output).toContain('resumed');
    const shown = [...ivy.output.matchAll(/said:\n {4}(\w+ \d)/g)].map((m) => m[1]);
    expect(shown).toEqual(['before 1', 'before 2', 'before 3', 'after 1', 'after 2', 'after 3']);
    sender.close();
    proxy.close();
  });
});

describe('parley-client, interactive (in a pseudo-terminal)', () => {
  it('registers, logs in, chats, shows an incoming message without losing the typed line, logs out and quits', async () => {
    const peerId = await account('i-peer');
    const term = CliProcess.inTerminal(['127.0.0.1', port]);
    let at = await term.waitFor('choice:');
    term.write('2\r');
    at = await term.waitFor('username:', at);
    term.write('i-user\r');
    at = await term.waitFor('userpassword:', at);
    term.write('secret-pw\r');
    at = await term.waitFor(/i-user register success, userid is \d+, do not forget it!/, at);
    at = await term.waitFor('choice:', at);
    term.write('1\r');
    at = await term.waitFor('userid:', at);
    term.write('i-user\r');
    at = await term.waitFor('userpassword:', at);
    term.write('secret-pw\r');
    at = await term.waitFor('current login user => id:', at);
    at = await term.waitFor('show command list >>>', at);
    at = await term.waitFor('i-user> ', at);
    expect(term.output).not.toContain('secret-pw');

    term.write(`chat:${peerId}:hi from the terminal\r`);
    at = await term.waitFor(`sent to ${peerId}`, at);

    // Half a line typed, then a message arrives: it is printed, and the half line is drawn again after it.
    term.write('chat:2:half typ');
    await term.waitFor('half typ', at);
    const peer = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await peer.connect();
    await peer.login({ name: 'i-peer' }, 'pw');
    const userId = (await peer.whois('i-user')).id;
    await peer.sendTo(userId, 'incoming while typing');
    at = await term.waitFor(/\[\d+\]i-peer said:\r?\n {4}incoming while typing/, at);
    at = await term.waitFor('half typ', at);
    term.write('\x15'); // Ctrl-U clears the half line

    term.write('whoi\t');
    await term.waitFor('whois:', at);
    term.write('\x15');
    term.write('bogus\r');
    at = await term.waitFor('invalid input command!', at);
    term.write('loginout\r');
    at = await term.waitFor('logged out', at);
    at = await term.waitFor('choice:', at);
    term.write('3\r');
    expect(await term.exited).toBe(0);
    peer.close();
  });

  it('after the account logs in elsewhere, says so and returns to the login menu; logging in again works', async () => {
    await account('t-tom');
    const term = CliProcess.inTerminal(['127.0.0.1', port]);
    let at = await term.waitFor('choice:');
    term.write('1\r');
    at = await term.waitFor('userid:', at);
    term.write('t-tom\r');
    at = await term.waitFor('userpassword:', at);
    term.write('pw\r');
    at = await term.waitFor('t-tom> ', at);
    term.write('chat:1:half typ'); // a half-typed line when the takeover comes
    at = await term.waitFor('half typ', at);

    const elsewhere = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await elsewhere.connect();
    await elsewhere.login({ name: 't-tom' }, 'pw');
    at = await term.waitFor('this account logged in elsewhere; you were logged out here', at);
    const kicked = at;
    at = await term.waitFor('1. login', at);
    at = await term.waitFor('choice:', at);
    elsewhere.close();

    // Not a dead prompt: the menu works, and so does the session after logging in again.
    term.write('1\r');
    at = await term.waitFor('userid:', at);
    term.write('t-tom\r');
    at = await term.waitFor('userpassword:', at);
    term.write('pw\r');
    at = await term.waitFor('current login user => id:', at);
    at = await term.waitFor('t-tom> ', at);
    term.write('friends\r');
    at = await term.waitFor('(no friends yet', at);
    expect(term.output).not.toContain('not connected');
    expect(term.output.slice(kicked)).not.toContain('half typ'); // the chat prompt's line went with it
    term.write('quit\r');
    expect(await term.exited).toBe(0);
  });

  it('prints offline messages after the login banner, with no prompt text run into other lines', async () => {
    const unaId = await account('t-una');
    const sender = new ParleyClient({
      host: '127.0.0.1',
      port: app.chatPort,
      transport: 'tcp',
      reconnect: false,
    });
    await sender.connect();
    await sender.register('t-vic', 'pw');
    await sender.login({ name: 't-vic' }, 'pw');
    for (let i = 1; i <= 3; i++) await sender.sendTo(unaId, `while away ${i}`);

    const term = CliProcess.inTerminal(['127.0.0.1', port]);
    let at = await term.waitFor('choice:');
    term.write('1\r');
    at = await term.waitFor('userid:', at);
    term.write(`${unaId}\r`);
    at = await term.waitFor('userpassword:', at);
    term.write('pw\r');
    await term.waitFor('t-una> ', at);
    await term.waitFor('while away 3', at);
    const lines = term.output.slice(at).split(/\r?\n/);
    const bannerEnd = lines.lastIndexOf('======================================================');
    const messages = lines.flatMap((line, index) => (/^ {4}while away \d$/.test(line) ? [index] : []));
    expect(lines.findIndex((line) => line.startsWith('current login user => id:'))).toBeGreaterThan(-1);
    expect(messages).toHaveLength(3);
    for (const index of messages) {
      expect(index).toBeGreaterThan(bannerEnd);
      // Each message's header on a line of its own, no prompt in front of it; its text indented below.
      expect(lines[index - 1]).toMatch(/^\S+ \S+ \[\d+\]t-vic said:$/);
    }
    // No prompt (userpassword:, the chat prompt) drawn again in front of other output.
    // eslint-disable-next-line no-control-regex
    const text = term.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(text).not.toMatch(/userpassword:[^\r\n]/);
    expect(text).not.toMatch(/t-una> [^\r\n]/);
    term.write('quit\r');
    expect(await term.exited).toBe(0);
    sender.close();
  });
});
