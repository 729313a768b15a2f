import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KvEngine } from '../../src/kv/kv-engine.js';

/** Behaviour every KV engine has; `check` runs after every step of the property test (tree invariants). */
export function kvEngineContract(
  name: string,
  make: (capacity: number) => KvEngine,
  check: (engine: KvEngine) => void = () => {},
): void {
  describe(`KV engine contract: ${name}`, () => {
    it('sets without overwriting, gets, modifies only existing keys, deletes', () => {
      const engine = make(100);
      expect(engine.set('k', 'v1')).toBe('OK');
      expect(engine.set('k', 'v2')).toBe('EXIST');
      expect(engine.get('k')).toBe('v1');
      expect(engine.modify('k', 'v3')).toBe('OK');
      expect(engine.get('k')).toBe('v3');
      expect(engine.modify('missing', 'x')).toBe('NO_EXIST');
      expect(engine.has('k')).toBe(true);
      expect(engine.delete('k')).toBe('OK');
      expect(engine.delete('k')).toBe('NO_EXIST');
      expect(engine.has('k')).toBe(false);
      expect(engine.get('k')).toBeUndefined();
      expect(engine.size).toBe(0);
    });

    it('enforces its capacity with FULL and accepts again after a delete', () => {
      const engine = make(3);
      for (const key of ['a', 'b', 'c']) expect(engine.set(key, key)).toBe('OK');
      expect(engine.set('d', 'd')).toBe('FULL');
      expect(engine.set('a', 'x')).toBe('EXIST');
      engine.delete('b');
      expect(engine.set('d', 'd')).toBe('OK');
      expect(engine.size).toBe(3);
    });

    it('keeps any UTF-8 keys and values apart, including anagrams and empty-looking ones', () => {
      const engine = make(100);
      const keys = ['ab', 'ba', '你好', '好你', '🎉', 'é', 'e\u0301', ' ', '"quoted\\\\"', 'a'.repeat(1000)];
      keys.forEach((key, i) => expect(engine.set(key, `v${i}`)).toBe('OK'));
      keys.forEach((key, i) => expect(engine.get(key)).toBe(`v${i}`));
      expect(engine.delete('ba')).toBe('OK');
      expect(engine.delete('ba')).toBe('NO_EXIST');
      expect(engine.get('ab')).toBe('v0');
      expect(engine.entries(1000)).toHaveLength(keys.length - 1);
      expect(engine.entries(2)).toHaveLength(2);
    });

    it('behaves like a Map under random operations', () => {
      const key = fc.oneof(fc.constantFrom('a', 'b', 'ab', 'ba', '你', '🎉'), fc.string({ maxLength: 4 }));
      const op = fc.oneof(
        fc.record({ kind: fc.constant('set' as const), key, value: fc.string({ maxLength: 3 }) }),
        fc.record({ kind: fc.constant('mod' as const), key, value: fc.string({ maxLength: 3 }) }),
        fc.record({ kind: fc.constant('del' as const), key }),
        fc.record({ kind: fc.constant('get' as const), key }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
          const engine = make(40);
          const oracle = new Map<string, string>();
          for (const o of ops) {
            if (o.kind === 'set') {
              const expected = oracle.has(o.key) ? 'EXIST' : oracle.size >= 40 ? 'FULL' : 'OK';
              expect(engine.set(o.key, o.value)).toBe(expected);
              if (expected === 'OK') oracle.set(o.key, o.value);
            } else if (o.kind === 'mod') {
              expect(engine.modify(o.key, o.value)).toBe(oracle.has(o.key) ? 'OK' : 'NO_EXIST');
              if (oracle.has(o.key)) oracle.set(o.key, o.value);
            } else if (o.kind === 'del') {
              expect(engine.delete(o.key)).toBe(oracle.delete(o.key) ? 'OK' : 'NO_EXIST');
            } else {
              expect(engine.get(o.key)).toBe(oracle.get(o.key));
            }
            expect(engine.size).toBe(oracle.size);
            check(engine);
          }
          const listed = new Map(engine.entries(1000).map((e) => [e.key, e.value]));
          expect(listed).toEqual(oracle);
        }),
        { numRuns: 150 },
      );
    });
  });
}
