import { describe, expect, it } from 'vitest';
import { inspectorUrl } from '../../../bench/lib/inspector-memory.js';
import { machineBusyTicks } from '../../../bench/lib/process-cost.js';
import { relayUserId, takeFrames, userFrame } from '../../../bench/lib/v1-relay.js';

describe('the bare v1 relay and the benchmark probes', () => {
  it('cuts NUL- and newline-ended frames, keeps a partial one and drops the PROXY header', () => {
    expect(
      takeFrames('PROXY TCP4 127.0.0.1 127.0.0.1 5 6\r\n{"msgid":4}\0{"msgid":1,"id":3}\0{"msg'),
    ).toEqual({
      frames: ['{"msgid":4}', '{"msgid":1,"id":3}'],
      rest: '{"msg',
    });
    expect(takeFrames('{"a":1}\n\n{"b":2}\0')).toEqual({ frames: ['{"a":1}', '{"b":2}'], rest: '' });
    expect(takeFrames('')).toEqual({ frames: [], rest: '' });
  });

  it('pads a frame with NULs to 1024 bytes only when asked, and never cuts a longer one', () => {
    expect(userFrame('{"a":1}', false)).toBe('{"a":1}\0');
    const padded = userFrame('{"msg":"é"}', true);
    expect(Buffer.byteLength(padded)).toBe(1024);
    expect(padded.startsWith('{"msg":"é"}\0')).toBe(true);
    const long = `{"msg":"${'x'.repeat(1100)}"}`;
    expect(userFrame(long, true)).toBe(`${long}\0`);
  });

  it('hands out user ids no other relay hands out', () => {
    const ids = new Set<number>();
    for (let serial = 0; serial < 100; serial++)
      for (const index of [1, 2]) ids.add(relayUserId(index, 2, serial));
    expect(ids.size).toBe(200);
    expect(Math.min(...ids)).toBe(1);
  });

  it("reads the machine's busy ticks without idle and iowait", () => {
    const stat = 'cpu  100 5 50 1000 300 7 8 2 0 0\ncpu0 50 2 25 500 150 3 4 1 0 0\n';
    expect(machineBusyTicks(stat)).toBe(100 + 5 + 50 + 7 + 8 + 2);
  });

  it("finds the inspector's URL in a node's output", () => {
    expect(
      inspectorUrl(
        'x\nDebugger listening on ws://127.0.0.1:40123/2b1c-9f\nFor help, see: https://nodejs.org\n',
      ),
    ).toBe('ws://127.0.0.1:40123/2b1c-9f');
    expect(inspectorUrl('nothing here')).toBeUndefined();
  });
});
