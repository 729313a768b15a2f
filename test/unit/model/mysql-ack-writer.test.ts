import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MysqlAckWriter } from '../../../src/model/mysql-ack-writer.js';
import type { Database } from '../../../src/model/mysql-database.js';

/** One UPDATE the writer sent; the test decides when (and how) it finishes. */
interface Write {
  /** The `[userId, device, seq]` triples of the statement, in the order it locks them. */
  readonly triples: [number, string, number][];
  finish(error?: Error): void;
}

/** A Database without MySQL: records each ack UPDATE and lets the test commit or fail it. */
function fakeDatabase() {
  const writes: Write[] = [];
  const db = {
    query(_sql: string, params: unknown[]): Promise<unknown> {
      return new Promise((resolve, reject) => {
        writes.push({
          triples: JSON.parse(params[0] as string) as [number, string, number][],
          finish: (error) => (error ? reject(error) : resolve([])),
        });
      });
    },
  };
  return { db: db as unknown as Database, writes };
}

const INTERVAL = 50;

function setup() {
  const { db, writes } = fakeDatabase();
  const written: number[][] = [];
  const writer = new MysqlAckWriter(
    db,
    { now: () => Date.now() },
    (userIds) => written.push([...userIds]),
    INTERVAL,
  );
  return { writer, writes, written };
}

/** Lets the writer's promise callbacks run (no timers). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('MysqlAckWriter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes an ack on an idle node at once, without waiting for the interval', async () => {
    const { writer, writes, written } = setup();
    const done = writer.ack(1, 'phone', 5);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.triples).toEqual([[1, 'phone', 5]]);
    writes[0]!.finish();
    await done;
    expect(written).toEqual([[1]]);
  });

  it('spaces flushes by the interval while acks keep coming, collapsing each device to its highest ack', async () => {
    const { writer, writes } = setup();
    const first = writer.ack(1, 'phone', 1);
    writes[0]!.finish();
    await first;
    // Within the interval of the first flush: nothing is written until it has passed.
    const acks = [writer.ack(2, 'phone', 3), writer.ack(1, 'phone', 4), writer.ack(1, 'phone', 2)];
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(writes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toHaveLength(2);
    // One statement, user id order, each device at its highest ack.
    expect(writes[1]!.triples).toEqual([
      [1, 'phone', 4],
      [2, 'phone', 3],
    ]);
    writes[1]!.finish();
    await Promise.all(acks);
  });

  it('does not start a flush while one is in flight; acks arriving meanwhile go in the next one', async () => {
    const { writer, writes } = setup();
    const first = writer.ack(1, 'phone', 1);
    const second = writer.ack(2, 'phone', 1);
    expect(writes).toHaveLength(1);
    // The first write outlasts the interval: the next flush starts when it is done, not before.
    await vi.advanceTimersByTimeAsync(INTERVAL * 3);
    expect(writes).toHaveLength(1);
    writes[0]!.finish();
    await first;
    await settle();
    expect(writes).toHaveLength(2);
    expect(writes[1]!.triples).toEqual([[2, 'phone', 1]]);
    writes[1]!.finish();
    await second;
  });

  it('writes a touch (a session opening) without waiting for the interval, with the acks pending', async () => {
    const { writer, writes, written } = setup();
    const first = writer.ack(1, 'phone', 1);
    writes[0]!.finish();
    await first;
    const ack = writer.ack(2, 'phone', 7);
    const touch = writer.touch(3, 'tablet');
    await settle();
    expect(writes).toHaveLength(2);
    expect(writes[1]!.triples).toEqual([
      [2, 'phone', 7],
      [3, 'tablet', 0],
    ]);
    writes[1]!.finish();
    await Promise.all([ack, touch]);
    // A touch moves no position: only the user who acked may have rows to prune.
    expect(written).toEqual([[1], [2]]);
  });

  it('rejects the waiters of a failed write and writes later acks as usual', async () => {
    const { writer, writes } = setup();
    const failed = writer.ack(1, 'phone', 1);
    writes[0]!.finish(new Error('gone'));
    await expect(failed).rejects.toThrow('gone');
    const next = writer.ack(1, 'phone', 2);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(writes).toHaveLength(2);
    writes[1]!.finish();
    await next;
  });

  it('spaces flushes by timers, not by its clock: a store given a clock that never moves still writes', async () => {
    const { db, writes } = fakeDatabase();
    const writer = new MysqlAckWriter(db, { now: () => 0 }, () => undefined, INTERVAL);
    const first = writer.ack(1, 'phone', 1);
    writes[0]!.finish();
    await first;
    const second = writer.ack(1, 'phone', 2);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(writes).toHaveLength(2);
    writes[1]!.finish();
    await second;
  });

  it('with an interval of 0 starts the next flush as soon as the one in flight is done', async () => {
    const { db, writes } = fakeDatabase();
    const writer = new MysqlAckWriter(db, { now: () => Date.now() }, () => undefined, 0);
    const first = writer.ack(1, 'phone', 1);
    const second = writer.ack(1, 'phone', 2);
    writes[0]!.finish();
    await first;
    await settle();
    expect(writes).toHaveLength(2);
    writes[1]!.finish();
    await second;
  });
  it('on close writes the acks waiting for the interval at once, waits for the write, and writes later acks at once', async () => {
    const { writer, writes } = setup();
    const first = writer.ack(1, 'phone', 1);
    writes[0]!.finish();
    await first;
    // Held back by the interval (a session ending under load at shutdown).
    const held = writer.ack(2, 'phone', 7);
    await settle();
    expect(writes).toHaveLength(1);
    let closed = false;
    const closing = writer.close().then(() => (closed = true));
    expect(writes).toHaveLength(2);
    expect(writes[1]!.triples).toEqual([[2, 'phone', 7]]);
    // An ack arriving while the close is under way waits for the write in flight, then goes without the interval.
    const late = writer.ack(3, 'tablet', 2);
    await settle();
    expect(closed).toBe(false);
    writes[1]!.finish();
    await held;
    await settle();
    expect(writes).toHaveLength(3);
    expect(writes[2]!.triples).toEqual([[3, 'tablet', 2]]);
    expect(closed).toBe(false);
    writes[2]!.finish();
    await late;
    await closing;
    expect(closed).toBe(true);
  });
});
