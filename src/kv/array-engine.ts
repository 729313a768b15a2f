import { hash } from './hash-engine.js';
import type { ChangeResult, KvEngine, KvEntry, SetResult } from './kv-engine.js';

/**
 * A linear array: entries packed at the front (delete moves the last entry into the hole), lookups scan
 * only the used part. The original scanned all 524,288 slots on every operation, twice for SET.
 * The scan runs over a parallel array of 32-bit key fingerprints and compares the strings only where a
 * fingerprint matches: a string comparison costs a pointer check only when both strings are interned,
 * and keys read from requests are not (JSON.parse interned short ones; docs/BENCHMARKS.md).
 */
export class ArrayEngine implements KvEngine {
  readonly name = 'array';
  private readonly keys: string[] = [];
  private readonly values: string[] = [];
  private fingerprints = new Int32Array(1024);

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.keys.length;
  }

  get(key: string): string | undefined {
    const index = this.indexOf(key);
    return index === -1 ? undefined : this.values[index];
  }

  has(key: string): boolean {
    return this.indexOf(key) !== -1;
  }

  set(key: string, value: string): SetResult {
    if (this.indexOf(key) !== -1) return 'EXIST';
    if (this.keys.length >= this.capacity) return 'FULL';
    if (this.keys.length === this.fingerprints.length) {
      const grown = new Int32Array(Math.min(this.capacity, this.fingerprints.length * 2));
      grown.set(this.fingerprints);
      this.fingerprints = grown;
    }
    this.fingerprints[this.keys.length] = hash(key) | 0;
    this.keys.push(key);
    this.values.push(value);
    return 'OK';
  }

  modify(key: string, value: string): ChangeResult {
    const index = this.indexOf(key);
    if (index === -1) return 'NO_EXIST';
    this.values[index] = value;
    return 'OK';
  }

  delete(key: string): ChangeResult {
    const index = this.indexOf(key);
    if (index === -1) return 'NO_EXIST';
    const last = this.keys.length - 1;
    this.keys[index] = this.keys[last]!;
    this.values[index] = this.values[last]!;
    this.fingerprints[index] = this.fingerprints[last]!;
    this.keys.pop();
    this.values.pop();
    return 'OK';
  }

  entries(limit: number): KvEntry[] {
    const out: KvEntry[] = [];
    for (let i = 0; i < this.keys.length && out.length < limit; i++)
      out.push({ key: this.keys[i]!, value: this.values[i]! });
    return out;
  }

  private indexOf(key: string): number {
    const { keys, fingerprints } = this;
    const fingerprint = hash(key) | 0;
    for (let i = 0; i < keys.length; i++) if (fingerprints[i] === fingerprint && keys[i] === key) return i;
    return -1;
  }
}
