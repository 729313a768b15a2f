import type { ChangeResult, KvEngine, KvEntry, SetResult } from './kv-engine.js';

interface Node {
  readonly key: string;
  value: string;
  next: Node | undefined;
}

const INITIAL_BUCKETS = 1024;
/** Grow (double) when entries exceed this many per bucket on average. */
const MAX_LOAD = 0.75;

/**
 * A chained hash table with its own buckets and hash function (FNV-1a over UTF-16 code units, unsigned),
 * doubling its bucket array when the load factor passes 0.75. The original summed signed chars modulo
 * 131,072 — 100k keys fell into ~300 buckets and non-ASCII keys indexed outside the array.
 */
export class HashEngine implements KvEngine {
  readonly name = 'hash';
  private buckets: (Node | undefined)[] = new Array<Node | undefined>(INITIAL_BUCKETS);
  private count = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  /** Current number of buckets (for stats and tests). */
  get bucketCount(): number {
    return this.buckets.length;
  }

  get(key: string): string | undefined {
    return this.find(key)?.value;
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  set(key: string, value: string): SetResult {
    if (this.find(key)) return 'EXIST';
    if (this.count >= this.capacity) return 'FULL';
    if (this.count + 1 > this.buckets.length * MAX_LOAD) this.resize(this.buckets.length * 2);
    const index = hash(key) & (this.buckets.length - 1);
    this.buckets[index] = { key, value, next: this.buckets[index] };
    this.count++;
    return 'OK';
  }

  modify(key: string, value: string): ChangeResult {
    const node = this.find(key);
    if (!node) return 'NO_EXIST';
    node.value = value;
    return 'OK';
  }

  delete(key: string): ChangeResult {
    const index = hash(key) & (this.buckets.length - 1);
    let previous: Node | undefined;
    for (let node = this.buckets[index]; node; previous = node, node = node.next) {
      if (node.key !== key) continue;
      if (previous) previous.next = node.next;
      else this.buckets[index] = node.next;
      this.count--;
      return 'OK';
    }
    return 'NO_EXIST';
  }

  entries(limit: number): KvEntry[] {
    const out: KvEntry[] = [];
    for (const head of this.buckets) {
      for (let node = head; node && out.length < limit; node = node.next)
        out.push({ key: node.key, value: node.value });
      if (out.length >= limit) break;
    }
    return out;
  }

  private find(key: string): Node | undefined {
    for (let node = this.buckets[hash(key) & (this.buckets.length - 1)]; node; node = node.next) {
      if (node.key === key) return node;
    }
    return undefined;
  }

  private resize(size: number): void {
    const old = this.buckets;
    this.buckets = new Array<Node | undefined>(size);
    for (const head of old) {
      for (let node = head; node;) {
        const next = node.next;
        const index = hash(node.key) & (size - 1);
        node.next = this.buckets[index];
        this.buckets[index] = node;
        node = next;
      }
    }
  }
}

/** 32-bit FNV-1a over UTF-16 code units, always non-negative. */
export function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
