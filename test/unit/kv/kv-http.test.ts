import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvCommandReply } from '../../../src/kv/kv-http.js';
import { KvStore } from '../../../src/kv/kv-store.js';

const newStore = (): KvStore =>
  new KvStore({ arrayCapacity: 8, hashCapacity: 8, rbtreeCapacity: 8, maxKeyBytes: 32, maxValueBytes: 64 });

describe('kvCommandReply', () => {
  it('reads escaped strings, numbers as strings and any field order; rejects broken JSON with 400', () => {
    const kv = newStore();
    expect(JSON.parse(kvCommandReply(kv, '{"cmd":"HSET","key":"a\\"b","value":"v\\n"}').json)).toMatchObject({
      status: 'OK',
    });
    expect(JSON.parse(kvCommandReply(kv, '{"key":"a\\"b","cmd":"HGET"}').json)).toMatchObject({
      status: 'OK',
      message: 'v\n',
    });
    expect(JSON.parse(kvCommandReply(kv, '{"cmd":"HSET","key":7,"value":8}').json)).toMatchObject({
      status: 'OK',
    });
    expect(
      (JSON.parse(kvCommandReply(kv, '{"cmd":"HGET","key":"7"}').json) as { message: string }).message,
    ).toBe('8');
    expect(kvCommandReply(kv, '{"cmd":"HGET","key":"7"').status).toBe(400);
  });

  it('embeds the current stats document and the result of list commands, as valid JSON', () => {
    const kv = newStore();
    kvCommandReply(kv, '{"cmd":"RSET","key":"b","value":"2"}');
    const reply = JSON.parse(kvCommandReply(kv, '{"cmd":"RSET","key":"a","value":"1"}').json) as unknown;
    expect(reply).toEqual({ status: 'OK', message: 'Set successfully', data: kv.stats() });
    const keys = JSON.parse(kvCommandReply(kv, '{"cmd":"RKEYS","key":"10"}').json) as { result: unknown };
    expect(keys.result).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
  });

  it('answers the compact body (read without JSON.parse) exactly as the same request spaced out', () => {
    // The compact form `{"cmd":…,"key":…,"value":…}` takes a shortcut; spaced JSON always goes to
    // JSON.parse. Any text at all — quotes, backslashes, control characters, non-ASCII — must give the
    // same replies through both, on twin stores fed the same commands.
    const compact = newStore();
    const spaced = newStore();
    const text = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('', 'a', 'k"', 'k\\', '\u0001', 'é✓'),
    );
    const command = fc.record(
      {
        cmd: fc.oneof(fc.constantFrom('HSET', 'HGET', 'HDEL', 'RSET', 'RMOD', 'SET', 'EXIST', 'COUNT'), text),
        key: text,
        value: text,
      },
      { requiredKeys: ['cmd', 'key'] },
    );
    fc.assert(
      fc.property(command, (request) => {
        const body = JSON.stringify(request);
        const spacedBody = JSON.stringify(request, null, 1);
        expect(body).not.toBe(spacedBody);
        expect(kvCommandReply(compact, body)).toEqual(kvCommandReply(spaced, spacedBody));
      }),
      { numRuns: 2000 },
    );
    expect(compact.stats()).toEqual(spaced.stats());
    expect(compact.engines.hash.size + compact.engines.rbtree.size).toBeGreaterThan(0);
  });
});
