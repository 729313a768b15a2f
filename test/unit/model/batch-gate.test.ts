import DataLoader from 'dataloader';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchGate } from '../../../src/model/batch-gate.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A loader whose batches are recorded and answered by hand. */
function loader(gate: BatchGate) {
  const batches: { ids: number[]; answer: () => void; fail: () => void }[] = [];
  const load = new DataLoader<number, number>(
    (ids) =>
      gate.track(
        new Promise<number[]>((resolve, reject) =>
          batches.push({
            ids: [...ids],
            answer: () => resolve(ids.map((id) => id * 10)),
            fail: () => reject(new Error('db down')),
          }),
        ),
      ),
    { cache: false, batchScheduleFn: gate.schedule },
  );
  return { load, batches };
}

const turn = () => vi.advanceTimersByTimeAsync(0);

describe('BatchGate', () => {
  it('sends the loads of one turn at once when nothing is in flight', async () => {
    const { load, batches } = loader(new BatchGate());
    const results = Promise.all([load.load(1), load.load(2)]);
    await turn();
    expect(batches.map((b) => b.ids)).toEqual([[1, 2]]);
    batches[0]!.answer();
    expect(await results).toEqual([10, 20]);
  });

  it('holds the loads arriving while a batch is in flight and sends them as one once it answered', async () => {
    const { load, batches } = loader(new BatchGate());
    const first = load.load(1);
    await turn();
    const later = [load.load(2)];
    await turn();
    later.push(load.load(3));
    await turn();
    later.push(load.load(4));
    await turn();
    expect(batches.map((b) => b.ids)).toEqual([[1]]);
    batches[0]!.answer();
    await turn();
    expect(batches.map((b) => b.ids)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.answer();
    expect([await first, ...(await Promise.all(later))]).toEqual([10, 20, 30, 40]);
  });

  it('sends the held loads after maxWaitMs even if the batch in flight has not answered', async () => {
    const { load, batches } = loader(new BatchGate(20));
    void load.load(1);
    await turn();
    const held = load.load(2);
    await vi.advanceTimersByTimeAsync(19);
    expect(batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches.map((b) => b.ids)).toEqual([[1], [2]]);
    batches[1]!.answer();
    expect(await held).toBe(20);
  });

  it('lets the next batch go when the one in flight failed', async () => {
    const { load, batches } = loader(new BatchGate());
    const first = load.load(1).catch((error: Error) => error.message);
    await turn();
    const second = load.load(2);
    await turn();
    batches[0]!.fail();
    expect(await first).toBe('db down');
    await turn();
    expect(batches.map((b) => b.ids)).toEqual([[1], [2]]);
    batches[1]!.answer();
    expect(await second).toBe(20);
  });
});
