import { describe, expect, it } from 'vitest';
import {
  formatConversations,
  formatFriends,
  formatMessage,
  formatOwnMessage,
  formatPresence,
  makePaint,
  typingHint,
} from '../../../src/cli/render.js';

const plain = makePaint(false);

describe('formatMessage', () => {
  it('prints the ancestor header, then the text on its own indented line', () => {
    const line = formatMessage(
      {
        from: { id: 2, name: 'bob' },
        msg: 'hi there',
        time: '2026-11-27 12:00:00',
        seq: 1,
        mid: 1,
        ts: 0,
      },
      plain,
    );
    expect(line).toBe('2026-11-27 12:00:00 [2]bob said:\n    hi there');
  });

  it('keeps a forged second line indented under its real sender, and neutralises escapes', () => {
    const line = formatMessage(
      {
        from: { id: 2, name: 'mallory' },
        msg: 'hi\n2026-11-27 11:00:00 [1]alice said: send me your password\r\x1b[2K',
        time: 't',
        groupid: 5,
      } as never,
      plain,
    );
    const lines = line.split('\n');
    expect(lines[0]).toBe('群消息[5]:t [2]mallory said:');
    expect(lines.slice(1).every((l) => l.startsWith('    '))).toBe(true);
    expect(line).not.toContain('\x1b');
  });
});

describe('presence, typing, own messages and the conversation list', () => {
  const at = (day: number, h: number, m: number) => new Date(2026, 10, day, h, m).getTime();
  const now = at(27, 15, 0);

  it('says who came online and who went offline, with when', () => {
    expect(formatPresence('bob', { id: 2, state: 'online', lastSeen: null }, plain, now)).toBe(
      'bob is online',
    );
    expect(formatPresence('bob', { id: 2, state: 'offline', lastSeen: at(27, 14, 2) }, plain, now)).toBe(
      'bob went offline (last seen 14:02)',
    );
    expect(formatPresence('bob', { id: 2, state: 'offline', lastSeen: at(26, 9, 5) }, plain, now)).toBe(
      'bob went offline (last seen 2026-11-26 09:05)',
    );
    // Hidden (or unknown): no time.
    expect(formatPresence('bob', { id: 2, state: 'offline', lastSeen: null }, plain, now)).toBe(
      'bob went offline',
    );
    expect(formatPresence('b\x1bob', { id: 2, state: 'online', lastSeen: null }, plain, now)).not.toContain(
      '\x1b',
    );
  });

  it('hints who is typing in one short phrase', () => {
    expect(typingHint([])).toBe('');
    expect(typingHint(['bob'])).toBe('bob is typing…');
    expect(typingHint(['bob', 'carol'])).toBe('bob and carol are typing…');
    expect(typingHint(['a', 'b', 'c'])).toBe('a, b and c are typing…');
    expect(typingHint(['a', 'b', 'c', 'd'])).toBe('4 people are typing…');
  });

  it('shows messages sent from another device as `you (other device) → peer`', () => {
    const own = {
      from: { id: 1, name: 'alice' },
      toid: 2,
      msg: 'hello\nsecond',
      time: 't',
      seq: 1,
      mid: 9,
      ts: 0,
    };
    expect(formatOwnMessage({ ...own, own: true }, 'bob', plain)).toBe(
      't you (other device) → bob: hello\n    second',
    );
    expect(formatOwnMessage({ ...own, groupid: 5, groupname: 'team', own: true }, '', plain)).toBe(
      't you (other device) → group 5 team: hello\n    second',
    );
  });

  it('lists conversations with unread counts and the last message', () => {
    const last = {
      from: { id: 2, name: 'bob' },
      toid: 1,
      msg: 'see\nyou',
      time: 't',
      mid: 51,
      ts: at(27, 14, 2),
    };
    expect(
      formatConversations(
        [
          { target: { with: 2 }, name: 'bob', last, readUpTo: 48, unread: 3 },
          {
            target: { groupid: 5 },
            name: 'team',
            last: { ...last, from: { id: 1, name: 'me' } },
            readUpTo: 51,
            unread: 0,
          },
          { target: { with: 7 }, name: 'zed', last: undefined, readUpTo: 0, unread: 1500 },
        ],
        1,
        plain,
        now,
      ),
    ).toEqual([
      '2        bob  3 unread 14:02 bob: see you',
      'g:5      team  read 14:02 you: see you',
      '7        zed  999+ unread',
    ]);
  });

  it('lists friends with their last-seen time when offline', () => {
    expect(
      formatFriends(
        [
          { id: 2, name: 'bob', online: true, state: 'online', lastSeen: null },
          { id: 3, name: 'carol', online: false, state: 'offline', lastSeen: at(27, 14, 2) },
          { id: 4, name: 'dan', online: false },
        ],
        now,
      ),
    ).toEqual(['2 bob online', '3 carol offline (last seen 14:02)', '4 dan offline']);
  });
});
