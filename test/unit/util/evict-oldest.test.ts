import { describe, expect, it } from 'vitest';
import { evictOldest } from '../../../src/util/evict-oldest.js';

describe('evictOldest', () => {
  it('leaves a map within its bound alone', () => {
    const map = new Map([
      [1, 'a'],
      [2, 'b'],
    ]);
    evictOldest(map, 2);
    expect([...map.keys()]).toEqual([1, 2]);
  });

  it('drops the oldest entries first, a tenth of the bound at a time', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 100; i++) {
      map.set(i, i);
      evictOldest(map, 50);
      expect(map.size).toBeLessThanOrEqual(50);
    }
    const keys = [...map.keys()];
    // Newest kept, in order, with no holes: only the oldest went.
    expect(keys.at(-1)).toBe(99);
    expect(keys).toEqual(Array.from({ length: keys.length }, (_, i) => 100 - keys.length + i));
    expect(keys.length).toBeGreaterThanOrEqual(45);
  });

  it('keeps a re-inserted key as the newest', () => {
    const map = new Map<string, number>();
    for (const key of ['a', 'b', 'c']) map.set(key, 0);
    map.delete('a');
    map.set('a', 1);
    map.set('d', 0);
    evictOldest(map, 3);
    expect(map.has('b')).toBe(false);
    expect(map.has('a')).toBe(true);
  });

  it('bounds a Set the same way', () => {
    const set = new Set<number>();
    for (let i = 0; i < 30; i++) {
      set.add(i);
      evictOldest(set, 10);
    }
    expect(set.size).toBeLessThanOrEqual(10);
    expect(set.has(29)).toBe(true);
    expect(set.has(0)).toBe(false);
  });
});
