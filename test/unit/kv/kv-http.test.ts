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
});
