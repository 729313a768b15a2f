import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArrayEngine } from '../../../src/kv/array-engine.js';
import { hash, HashEngine } from '../../../src/kv/hash-engine.js';
import { compareKeys, type KvEngine } from '../../../src/kv/kv-engine.js';
import { KvLog } from '../../../src/kv/kv-log.js';
import { KvStore } from '../../../src/kv/kv-store.js';
import { RbTreeEngine } from '../../../src/kv/rbtree-engine.js';
import { kvEngineContract } from '../../contract/kv-engine-contract.js';

kvEngineContract('array', (capacity) => new ArrayEngine(capacity));
kvEngineContract('hash', (capacity) => new HashEngine(capacity));
kvEngineContract(
  'rbtree',
  (capacity) => new RbTreeEngine(capacity),
  (engine) => (engine as RbTreeEngine).checkInvariants(),
);

describe('hash engine', () => {
  it('spreads keys k1..k100000 over many buckets (the original used ~300) and grows its table', () => {
    const engine = new HashEngine(200_000);
    for (let i = 1; i <= 100_000; i++) engine.set(`k${i}`, 'v');
    expect(engine.bucketCount).toBeGreaterThanOrEqual(131_072);
    const used = new Set(
      Array.from({ length: 100_000 }, (_, i) => hash(`k${i + 1}`) & (engine.bucketCount - 1)),
    );
    expect(used.size).toBeGreaterThan(60_000);
  });

  it('hashes non-ASCII keys to a non-negative bucket', () => {
    expect(hash('你好')).toBeGreaterThanOrEqual(0);
    expect(new HashEngine(10).set('你好', 'x')).toBe('OK');
  });
});

describe('red-black tree', () => {
  it('stays balanced: height within 2·log2(n+1) after sorted inserts and many deletes', () => {
    const tree = new RbTreeEngine(100_000);
    for (let i = 0; i < 50_000; i++) tree.set(String(i).padStart(6, '0'), 'v');
    for (let i = 0; i < 50_000; i += 3) tree.delete(String(i).padStart(6, '0'));
    const blackHeight = tree.checkInvariants();
    expect(blackHeight).toBeLessThanOrEqual(2 * Math.log2(tree.size + 1));
  });

  it('orders by code point like strcmp on UTF-8, and scans ranges and prefixes in order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const byBytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(Math.sign(compareKeys(a, b))).toBe(byBytes);
      }),
    );
    const tree = new RbTreeEngine(100);
    for (const key of ['user:3', 'user:1', 'user:10', 'admin', 'user:2', 'zeta', 'user;'])
      tree.set(key, key.toUpperCase());
    expect(tree.range('user:', 'user:9', 10).map((e) => e.key)).toEqual([
      'user:1',
      'user:10',
      'user:2',
      'user:3',
    ]);
    expect(tree.range('user:1', 'user:2', 1)).toEqual([{ key: 'user:1', value: 'USER:1' }]);
    expect(tree.scan('user:', undefined, 10).map((e) => e.key)).toEqual([
      'user:1',
      'user:10',
      'user:2',
      'user:3',
    ]);
    expect(tree.scan('user:', 'user:10', 2).map((e) => e.key)).toEqual(['user:2', 'user:3']);
    expect(tree.scan('nope', undefined, 10)).toEqual([]);
    expect(tree.scan('', undefined, 3).map((e) => e.key)).toEqual(['admin', 'user:1', 'user:10']);
  });
});

describe('KV store commands (the original semantics, bugs fixed)', () => {
  const store = () =>
    new KvStore({ arrayCapacity: 2, hashCapacity: 2, rbtreeCapacity: 2, maxKeyBytes: 16, maxValueBytes: 32 });

  it('answers with the original statuses and messages', () => {
    const kv = store();
    expect(kv.execute('SET', 'name', 'alice')).toEqual({ status: 'OK', message: 'Set successfully' });
    expect(kv.execute('SET', 'name', 'bob')).toEqual({ status: 'EXIST', message: 'Key already exists' });
    expect(kv.execute('GET', 'name', undefined)).toEqual({ status: 'OK', message: 'alice' });
    expect(kv.execute('MOD', 'name', 'carol')).toEqual({ status: 'OK', message: 'Modified successfully' });
    expect(kv.execute('EXIST', 'name', undefined)).toEqual({ status: 'EXIST', message: 'Key exists' });
    expect(kv.execute('DEL', 'name', undefined)).toEqual({ status: 'OK', message: 'Deleted successfully' });
    for (const cmd of ['GET', 'DEL', 'MOD', 'EXIST'])
      expect(kv.execute(cmd, 'name', 'x')).toEqual({ status: 'NO_EXIST', message: 'Key not found' });
  });

  it('fixes the original: FULL on every engine, HDEL of a colliding missing key, no truncation', () => {
    const kv = store();
    for (const prefix of ['', 'H', 'R']) {
      kv.execute(`${prefix}SET`, 'a', '1');
      kv.execute(`${prefix}SET`, 'b', '2');
      expect(kv.execute(`${prefix}SET`, 'c', '3')).toMatchObject({
        status: 'FULL',
        message: expect.stringMatching(/storage full$/),
      });
    }
    expect(kv.execute('HSET', 'ab', '1').status).toBe('FULL');
    kv.execute('HDEL', 'a', undefined);
    kv.execute('HSET', 'ab', '1');
    expect(kv.execute('HDEL', 'ba', undefined)).toEqual({ status: 'NO_EXIST', message: 'Key not found' });
    expect(kv.execute('RSET', 'k'.repeat(17), 'v')).toMatchObject({
      status: 'ERROR',
      invalid: true,
      message: expect.stringContaining('Key too long'),
    });
    expect(kv.execute('HMOD', 'ab', 'v'.repeat(33))).toMatchObject({
      status: 'ERROR',
      message: expect.stringContaining('Value too long'),
    });
    expect(kv.stats().data.hash).toEqual({ count: 2, max: 2, remaining: 0 });
  });

  it('refuses unknown commands (case-sensitive like the original), missing keys and missing values', () => {
    const kv = store();
    expect(kv.execute('set', 'a', 'b')).toEqual({
      status: 'ERROR',
      message: 'Unknown command',
      invalid: true,
    });
    expect(kv.execute('SET', undefined, 'b')).toMatchObject({ status: 'ERROR', message: 'Key required' });
    expect(kv.execute('SET', 'a', '')).toMatchObject({ status: 'ERROR', message: 'Value required' });
    expect(kv.execute('MOD', 'a', undefined)).toMatchObject({ status: 'ERROR', message: 'Value required' });
  });

  it('adds COUNT, KEYS, RRANGE and RPREFIX', () => {
    const kv = new KvStore({
      arrayCapacity: 10,
      hashCapacity: 10,
      rbtreeCapacity: 10,
      maxKeyBytes: 64,
      maxValueBytes: 64,
    });
    for (const key of ['b', 'a', 'c', 'ab']) kv.execute('RSET', key, key);
    expect(kv.execute('RCOUNT', undefined, undefined)).toEqual({ status: 'OK', message: '4', result: 4 });
    expect(kv.execute('RKEYS', '2', undefined).result).toEqual([
      { key: 'a', value: 'a' },
      { key: 'ab', value: 'ab' },
    ]);
    expect(kv.execute('RRANGE', 'ab', 'b').result).toEqual([
      { key: 'ab', value: 'ab' },
      { key: 'b', value: 'b' },
    ]);
    expect(kv.execute('RPREFIX', 'a', undefined).result).toEqual([
      { key: 'a', value: 'a' },
      { key: 'ab', value: 'ab' },
    ]);
    expect(kv.execute('RRANGE', 'a', undefined).status).toBe('ERROR');
    expect(kv.execute('KEYS', 'lots', undefined)).toMatchObject({
      status: 'ERROR',
      message: expect.stringContaining('Limit'),
    });
  });
});

describe('KV append-only log', () => {
  it('replays writes at start, ignores a torn last record, and keeps working after it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-kvlog-'));
    const path = join(dir, 'hash.aof');
    const first = KvLog.open(path, 'always', new HashEngine(100));
    first.log.append('S', 'a', '1');
    first.log.append('S', 'b', '2');
    first.log.append('M', 'a', '3');
    first.log.append('D', 'b');
    first.log.append('S', 'c', 'x'.repeat(100));
    first.log.close();
    // A crash in the middle of the last record: cut it short.
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const engine: KvEngine = new HashEngine(100);
    const second = KvLog.open(path, 'always', engine);
    expect(second.replayed).toBe(4);
    expect(second.tornBytes).toBeGreaterThan(0);
    expect(engine.entries(10)).toEqual([{ key: 'a', value: '3' }]);
    second.log.append('S', 'd', '4');
    second.log.close();
    const third = new HashEngine(100);
    expect(KvLog.open(path, 'no', third).tornBytes).toBe(0);
    expect(new Map(third.entries(10).map((e) => [e.key, e.value]))).toEqual(
      new Map([
        ['a', '3'],
        ['d', '4'],
      ]),
    );
  });

  it('rejects a record whose checksum does not match', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-kvlog-'));
    const path = join(dir, 'rbtree.aof');
    const opened = KvLog.open(path, 'no', new RbTreeEngine(10));
    opened.log.append('S', 'good', '1');
    opened.log.append('S', 'bad', '2');
    opened.log.close();
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0xff, bytes.length - 3);
    writeFileSync(path, bytes);
    const tree = new RbTreeEngine(10);
    expect(KvLog.open(path, 'no', tree).replayed).toBe(1);
    expect(tree.has('bad')).toBe(false);
  });
});
