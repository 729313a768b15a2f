import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storedMessage, type InboxEntry } from '../../../src/service/ports.js';
import type { GroupView, OnlineUser } from '../../../src/service/social-service.js';
import { v1LoginAckFrame, v1MessageFrames, visibleControls } from '../../../src/protocol/v1-frames.js';

const bytes = (frame: string) => Buffer.byteLength(frame, 'utf8') + 1;

function message(body: string, name = 'alice', time = '2026-11-27 12:00:00') {
  return storedMessage(
    { senderId: 7, target: { kind: 'user', id: 9 }, body, clientTime: time, cmid: null },
    1,
    name,
    undefined,
    0,
  );
}

describe('v1 frames', () => {
  it('shows control characters as Control Pictures, keeps TAB and everything else', () => {
    expect(visibleControls('a\nb\rc\u0000d\u001be\u007ff\u0085g\th é😀')).toBe('a␊b␍c␀d␛e␡f\ufffdg\th é😀');
    expect(visibleControls('plain')).toBe('plain');
  });

  it('splits any message into numbered parts that each fit and join back to the text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 3000 }),
        fc.integer({ min: 512, max: 1500 }),
        (text, maxBytes) => {
          const body = text.length === 0 ? 'x' : text;
          const frames = v1MessageFrames(message(body), maxBytes);
          for (const frame of frames) expect(bytes(frame)).toBeLessThanOrEqual(maxBytes);
          const parts = frames.map((frame) => (JSON.parse(frame) as { msg: string }).msg);
          const joined =
            parts.length === 1
              ? parts[0]
              : parts
                  .map((part, i) => {
                    expect(part.startsWith(`(${i + 1}/${parts.length}) `)).toBe(true);
                    return part.slice(part.indexOf(') ') + 2);
                  })
                  .join('');
          expect(joined).toBe(visibleControls(body));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the ancestor key order in a delivered message', () => {
    expect(v1MessageFrames(message('hi'), 1023)).toEqual([
      '{"id":7,"msg":"hi","msgid":6,"name":"alice","time":"2026-11-27 12:00:00","toid":9}',
    ]);
  });

  it('fits the login ack in the frame, shortening lists with visible markers, offline entries whole', () => {
    const friends: OnlineUser[] = Array.from({ length: 80 }, (_, i) => ({
      id: i + 2,
      name: `friend${i}`,
      online: i % 2 === 0,
      lastSeen: null,
    }));
    const groups: GroupView[] = Array.from({ length: 5 }, (_, g) => ({
      id: g + 1,
      name: `group${g}`,
      desc: 'd',
      members: Array.from({ length: 40 }, (_, i) => ({
        id: i + 1,
        name: `m${i}`,
        role: 'normal',
        online: false,
      })),
    }));
    const offline: InboxEntry[] = Array.from({ length: 30 }, (_, i) => ({
      seq: i + 1,
      message: message(`o${i}`),
    }));
    for (const maxBytes of [512, 1023, 4096]) {
      const ack = v1LoginAckFrame({ id: 1, name: 'me' }, friends, groups, offline, maxBytes);
      expect(bytes(ack.frame)).toBeLessThanOrEqual(maxBytes);
      const parsed = JSON.parse(ack.frame) as { friends: string[]; offlinemsg?: string[] };
      expect(Object.keys(parsed)).toEqual(
        ['errno', 'friends', 'groups', 'id', 'msgid', 'name', 'offlinemsg'].filter((k) => k in parsed),
      );
      const lastFriend = JSON.parse(parsed.friends.at(-1)!) as { id: number; name: string };
      expect(lastFriend.id).toBe(0);
      expect(parsed.friends.length - 1 + Number(/\+(\d+)/.exec(lastFriend.name)![1])).toBe(80);
      expect(parsed.offlinemsg?.length ?? 0).toBe(ack.offlineIncluded);
    }
  });

  it('leaves the ack as the ancestor built it when everything fits', () => {
    const ack = v1LoginAckFrame(
      { id: 1, name: 'me' },
      [{ id: 2, name: 'bob', online: true, lastSeen: null }],
      [],
      [{ seq: 1, message: message('hello') }],
      1023,
    );
    expect(JSON.parse(ack.frame)).toEqual({
      errno: 0,
      friends: ['{"id":2,"name":"bob","state":"online"}'],
      id: 1,
      msgid: 2,
      name: 'me',
      offlinemsg: ['{"id":7,"msg":"hello","msgid":6,"name":"alice","time":"2026-11-27 12:00:00","toid":9}'],
    });
    expect(ack.offlineIncluded).toBe(1);
  });
});
