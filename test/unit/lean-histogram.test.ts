import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeanHistogram } from '../../src/lean-histogram.js';

describe('LeanHistogram', () => {
  it("exposes exactly what prom-client's Histogram does for the same observations", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['path'],
      buckets,
      registers: [theirs],
    });
    const lean = new LeanHistogram('h_seconds', 'h', buckets, ours);
    const live = lean.series({ path: 'live' });
    const late = lean.series({ path: 'late' });
    for (const value of [0, 0.0005, 0.001, 0.002, 0.5, 1, 7, 0.01]) {
      reference.observe({ path: 'live' }, value);
      live(value);
    }
    reference.observe({ path: 'late' }, 3);
    late(3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    lean.reset();
    reference.reset();
    reference.zero({ path: 'live' });
    reference.zero({ path: 'late' });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
