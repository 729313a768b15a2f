import { describe, expect, it } from 'vitest';
import { formatMessage, makePaint } from '../../../src/cli/render.js';

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
