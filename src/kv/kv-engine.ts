/** The three engine families of the KV admin plane, as the original command prefixes name them. */
export type EngineName = 'array' | 'hash' | 'rbtree';

export type SetResult = 'OK' | 'EXIST' | 'FULL';
export type ChangeResult = 'OK' | 'NO_EXIST';

export interface KvEntry {
  readonly key: string;
  readonly value: string;
}

/**
 * One engine: a data structure implemented here (not a wrapper over Map), with an enforced capacity.
 * SET never overwrites (EXIST); MOD and DEL need an existing key (NO_EXIST).
 */
export interface KvEngine {
  readonly name: EngineName;
  readonly capacity: number;
  readonly size: number;
  get(key: string): string | undefined;
  has(key: string): boolean;
  set(key: string, value: string): SetResult;
  modify(key: string, value: string): ChangeResult;
  delete(key: string): ChangeResult;
  /** Up to `limit` entries: insertion order (array), bucket order (hash), key order (rbtree). */
  entries(limit: number): KvEntry[];
}

/** Compares strings by Unicode code point (UTF-8 byte order, like the original's strcmp), not UTF-16 unit. */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after U+E000–U+FFFF in code point order.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
