import type { Clock } from './clock.js';
import { evictOldest } from './evict-oldest.js';

/**
 * A small read-through cache: values loaded on a miss are kept for `ttlMs`, at most `max` of them (oldest
 * dropped first). Concurrent misses of one key share one load.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: Promise<V>; at: number }>();

  constructor(
    private readonly load: (key: K) => Promise<V>,
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly clock: Clock,
  ) {}

  get(key: K): Promise<V> {
    const now = this.clock.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = this.load(key);
    this.entries.delete(key);
    this.entries.set(key, { value, at: now });
    evictOldest(this.entries, this.max);
    // A failed load is not kept: the next call asks again.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  /** Forgets a key (its data changed here). */
  delete(key: K): void {
    this.entries.delete(key);
  }
}
