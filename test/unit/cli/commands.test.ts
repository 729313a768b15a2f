import { describe, expect, it } from 'vitest';
import { parseCommand, typingTargetOf } from '../../../src/cli/commands.js';
import { makePaint } from '../../../src/cli/render.js';
import { runCommand } from '../../../src/cli/run-command.js';
import type { ParleyClient } from '../../../src/client/parley-client.js';

describe('parley-client commands for devices, presence, typing and reads', () => {
  it('parses them, and names the right syntax for wrong ones', () => {
    expect(parseCommand('conversations')).toEqual({ ok: true, command: { kind: 'conversations' } });
    expect(parseCommand('read:2')).toEqual({ ok: true, command: { kind: 'read', target: { with: 2 } } });
    expect(parseCommand('read:g:5:44')).toEqual({
      ok: true,
      command: { kind: 'read', target: { groupid: 5 }, upTo: 44 },
    });
    expect(parseCommand('read:2:x')).toMatchObject({
      ok: false,
      error: expect.stringContaining('read:friendid[:mid]'),
    });
    expect(parseCommand('typing:2')).toEqual({
      ok: true,
      command: { kind: 'typing', target: { with: 2 }, state: 'start' },
    });
    expect(parseCommand('typing:g:5:STOP')).toEqual({
      ok: true,
      command: { kind: 'typing', target: { groupid: 5 }, state: 'stop' },
    });
    expect(parseCommand('typing:2:maybe')).toMatchObject({ ok: false });
    expect(parseCommand('hide')).toEqual({ ok: true, command: { kind: 'presence', presence: 'hidden' } });
    expect(parseCommand('show')).toEqual({ ok: true, command: { kind: 'presence', presence: 'visible' } });
    expect(parseCommand('hide:now')).toMatchObject({ ok: false });
    expect(parseCommand('devices')).toEqual({ ok: true, command: { kind: 'devices' } });
    expect(parseCommand('loginout')).toEqual({ ok: true, command: { kind: 'loginout' } });
    expect(parseCommand('loginout:Everywhere')).toEqual({
      ok: true,
      command: { kind: 'loginout', everywhere: true },
    });
    expect(parseCommand('loginout:nowhere')).toMatchObject({
      ok: false,
      error: expect.stringContaining('loginout:everywhere'),
    });
  });

  it('knows which conversation a half-typed chat line is for, once text follows the target', () => {
    expect(typingTargetOf('chat:2:h')).toEqual({ with: 2 });
    expect(typingTargetOf(' groupchat : 5 :hello')).toEqual({ groupid: 5 });
    expect(typingTargetOf('chat:2:')).toBeUndefined();
    expect(typingTargetOf('chat:2:   ')).toBeUndefined();
    expect(typingTargetOf('chat:2')).toBeUndefined();
    expect(typingTargetOf('chat:0:x')).toBeUndefined();
    expect(typingTargetOf('history:2')).toBeUndefined();
  });
});

describe('running them', () => {
  const paint = makePaint(false);
  const calls: unknown[][] = [];
  const client = {
    user: { id: 1, name: 'alice' },
    device: 'laptop-1',
    history: (...args: unknown[]) => (
      calls.push(['history', ...args]),
      Promise.resolve({ messages: [{ mid: 44 }], more: false })
    ),
    markRead: (target: unknown, upTo: number) => (
      calls.push(['markRead', target, upTo]),
      Promise.resolve({ target, upTo })
    ),
    setPresence: (presence: string) => Promise.resolve({ presence }),
    logout: (options: unknown) => (calls.push(['logout', options]), Promise.resolve()),
    conversations: () =>
      Promise.resolve({
        conversations: [{ target: { with: 2 }, name: 'bob', last: undefined, readUpTo: 0, unread: 2 }],
        more: true,
      }),
  } as unknown as ParleyClient;
  const run = async (line: string) => {
    const parsed = parseCommand(line);
    if (!parsed.ok) throw new Error(parsed.error);
    return runCommand(client, parsed.command, paint);
  };

  it('read without a mid marks up to the newest message of the conversation', async () => {
    calls.length = 0;
    expect((await run('read:2')).lines).toEqual(['2 read up to #44']);
    expect(calls).toEqual([
      ['history', { with: 2 }, undefined, 1],
      ['markRead', { with: 2 }, 44],
    ]);
  });

  it('lists conversations, hides presence, names the device, logs out everywhere', async () => {
    expect((await run('conversations')).lines).toEqual([
      '2        bob  2 unread',
      '… older conversations not shown',
    ]);
    expect((await run('hide')).lines[0]).toMatch(/hidden: friends see you offline/);
    expect((await run('show')).lines[0]).toMatch(/visible/);
    expect((await run('devices')).lines[0]).toBe('this device: laptop-1');
    calls.length = 0;
    expect((await run('loginout:everywhere')).lines).toEqual(['logged out on every device']);
    expect(calls).toEqual([['logout', { everywhere: true }]]);
  });
});
