import type { ChangeResult, KvEngine, KvEntry, SetResult } from './kv-engine.js';

/**
 * A linear array: entries packed at the front (delete moves the last entry into the hole), lookups scan
 * only the used part. The original scanned all 524,288 slots on every operation, twice for SET.
 */
export class ArrayEngine implements KvEngine {
  readonly name = 'array';
  private readonly keys: string[] = [];
  private readonly values: string[] = [];

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
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  }
}
