import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptLimits } from '../../src/service/attempt-limits.js';

/** One AttemptLimits as two nodes of a cluster see it (the same object for a process-local one). */
export interface AttemptLimitsCluster {
  readonly a: AttemptLimits;
  readonly b: AttemptLimits;
  /** Lets `seconds` pass: advances fake timers, or waits them out against a real store. */
  elapse(seconds: number): Promise<void>;
  close(): Promise<void>;
}

/** The behaviour every AttemptLimits must have; `make()` builds a fresh, empty one. */
export function attemptLimitsContract(name: string, make: () => Promise<AttemptLimitsCluster>): void {
  describe(`AttemptLimits contract: ${name}`, () => {
    let cluster: AttemptLimitsCluster;
    beforeEach(async () => {
      cluster = await make();
    });
    afterEach(async () => {
      await cluster.close();
    });

    it('counts consumed points per key across nodes and refuses past the window’s points', async () => {
      const [a, b] = [cluster.a.window('w', 3, 60), cluster.b.window('w', 3, 60)];
      const states = [await a.consume('k'), await b.consume('k'), await a.consume('k'), await b.consume('k')];
      expect(states.map((s) => [s.allowed, s.consumed])).toEqual([
        [true, 1],
        [true, 2],
        [true, 3],
        [false, 4],
      ]);
      expect(states[3]!.msBeforeReset).toBeGreaterThan(0);
      expect(states[3]!.msBeforeReset).toBeLessThanOrEqual(60_000);
      expect(await a.consume('k', 2)).toMatchObject({ consumed: 6, allowed: false });
      // Another key, and another window with the same key, are apart.
      expect(await b.consume('other')).toMatchObject({ consumed: 1, allowed: true });
      expect(await cluster.b.window('v', 3, 60).consume('k')).toMatchObject({ consumed: 1 });
    });

    it('peeks without spending: undefined for a key never counted, its state otherwise', async () => {
      const [a, b] = [cluster.a.window('w', 2, 60), cluster.b.window('w', 2, 60)];
      expect(await a.peek('k')).toBeUndefined();
      await a.consume('k');
      for (let i = 0; i < 3; i++) expect(await b.peek('k')).toMatchObject({ allowed: true, consumed: 1 });
      await a.consume('k', 2);
      const state = await b.peek('k');
      expect(state).toMatchObject({ allowed: false, consumed: 3 });
      expect(state!.msBeforeReset).toBeGreaterThan(0);
      expect(state!.msBeforeReset).toBeLessThanOrEqual(60_000);
      expect(await b.peek('other')).toBeUndefined();
    });

    it('blocks a key for the seconds given, everywhere; reset forgets it', async () => {
      const [a, b] = [cluster.a.window('backoff', 1, 1), cluster.b.window('backoff', 1, 1)];
      await a.block('k', 30);
      const blocked = await b.peek('k');
      expect(blocked?.allowed).toBe(false);
      expect(blocked!.msBeforeReset).toBeGreaterThan(1000);
      expect(blocked!.msBeforeReset).toBeLessThanOrEqual(30_000);
      await b.reset('k');
      expect(await a.peek('k')).toBeUndefined();
      await expect(b.reset('never-counted')).resolves.toBeUndefined();
    });

    it('forgets a key once its window has passed', async () => {
      const a = cluster.a.window('short', 1, 1);
      await a.consume('k');
      expect(await a.consume('k')).toMatchObject({ allowed: false, consumed: 2 });
      await cluster.elapse(1.2);
      expect(await cluster.b.window('short', 1, 1).peek('k')).toBeUndefined();
      expect(await a.consume('k')).toMatchObject({ allowed: true, consumed: 1 });
    });

    it('answers calls made together, each with its own result', async () => {
      const a = cluster.a.window('w', 5, 60);
      await a.consume('x', 2);
      const [x, y, px, py] = await Promise.all([a.consume('x'), a.consume('y'), a.peek('x'), a.peek('y')]);
      expect([x.consumed, y.consumed]).toEqual([3, 1]);
      // A peek issued with consumes sees the store at some point around them, never a wrong key's count.
      expect([2, 3]).toContain(px!.consumed);
      expect(py === undefined || py.consumed === 1).toBe(true);
    });
  });
}
