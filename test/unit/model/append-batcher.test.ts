import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AppendBatcher,
  type AppendBatchLimits,
  type AppendRequest,
  type AppendWriter,
} from '../../../src/model/append-batcher.js';
import { AppError } from '../../../src/errors.js';
import { storedMessage, type AppendResult } from '../../../src/service/ports.js';
import { RecordingTelemetry } from '../../helpers/recording-telemetry.js';

/** One write the batcher made; the test decides when (and how) it finishes. */
interface Write {
  readonly bodies: string[];
  finish(error?: Error): void;
}

/** A writer without MySQL: records each batch and lets the test commit or fail it. */
class FakeWriter implements AppendWriter {
  readonly writes: Write[] = [];
  private seen = 0;
  private arrived: (() => void) | undefined;
  private nextId = 1;

  write(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.writes.push({
        bodies: batch.map((request) => request.draft.body),
        finish: (error) => (error ? reject(error) : resolve(batch.map((request) => this.result(request)))),
      });
      this.arrived?.();
    });
  }

  settleFailed(request: AppendRequest, error: unknown): Promise<AppendResult> {
    if (request.draft.body === 'resend') return Promise.resolve({ ...this.result(request), duplicate: true });
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  /** The next write not yet taken, once the batcher has made it. */
  async next(): Promise<Write> {
    while (this.writes.length <= this.seen) await new Promise<void>((wake) => (this.arrived = wake));
    return this.writes[this.seen++]!;
  }

  private result(request: AppendRequest): AppendResult {
    return {
      message: storedMessage(request.draft, this.nextId++, 'a', undefined, 0),
      deliveries: [],
      duplicate: false,
    };
  }
}

function setup(limits: Partial<AppendBatchLimits>) {
  const writer = new FakeWriter();
  const batcher = new AppendBatcher(writer, limits);
  const send = (body: string, recipients: number[] = [2]) =>
    batcher.append(
      { senderId: 1, target: { kind: 'user', id: 2 }, body, clientTime: 't', cmid: null },
      recipients,
    );
  return { writer, batcher, send };
}

/** Settles into a readable outcome without ever rejecting (so a rejection is never unhandled). */
function outcome(promise: Promise<AppendResult>): { state: string; value?: AppendResult; error?: unknown } {
  const seen: { state: string; value?: AppendResult; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(seen, { state: 'fulfilled', value }),
    (error: unknown) => Object.assign(seen, { state: 'rejected', error }),
  );
  return seen;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AppendBatcher', () => {
  it('batches queued appends by count, inbox rows and body characters, in arrival order', async () => {
    const { writer, send } = setup({ maxInFlight: 1, maxBatch: 3, maxRows: 4, maxBodyChars: 10 });
    const results = Promise.all([
      send('x'), // starts at once, alone; the rest queue behind it
      ...['a', 'b', 'c', 'd'].map((body) => send(body)), // 3 per batch at most
      send('eeeeee'),
      send('ffff'), // 6 + 4 characters: a third append of text would pass 10
      send('g'),
      send('hh', [2, 3]),
      send('ii', [3, 2]), // 1 + 1 + 2 + 2 rows: passes 4
      send('j'),
    ]);
    const batches: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const write = await writer.next();
      // One batch commits at a time: the next write waits for this one to finish.
      expect(writer.writes).toHaveLength(i + 1);
      batches.push(write.bodies);
      write.finish();
    }
    expect(batches).toEqual([['x'], ['a', 'b', 'c'], ['d', 'eeeeee'], ['ffff', 'g', 'hh'], ['ii', 'j']]);
    expect((await results).map((r) => r.message.body)).toEqual(batches.flat());
  });

  it('starts a batch beside the one committing only once enough appends queued; an idle batcher never waits', async () => {
    const { writer, send } = setup({ maxInFlight: 2, minOverlappingBatch: 3 });
    const results = [send('a')]; // nothing in flight: written at once
    const first = await writer.next();
    results.push(send('b'), send('c'));
    await Promise.resolve();
    expect(writer.writes).toHaveLength(1); // two queued: they wait for the commit in flight
    results.push(send('d'));
    const second = await writer.next(); // three queued: a second batch overlaps the first
    expect(second.bodies).toEqual(['b', 'c', 'd']);
    results.push(send('e'));
    await Promise.resolve();
    expect(writer.writes).toHaveLength(2);
    first.finish();
    await results[0];
    expect(writer.writes).toHaveLength(2); // 'e' still waits: the second batch is committing
    second.finish();
    const third = await writer.next(); // nothing in flight: the queue goes
    expect(third.bodies).toEqual(['e']);
    third.finish();
    expect((await Promise.all(results)).map((r) => r.message.body)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Idle again: a lone append is written at once.
    const lone = send('f');
    const write = await writer.next();
    expect(write.bodies).toEqual(['f']);
    write.finish();
    await lone;
  });

  it('reports each batch it wrote to telemetry with its size (failed writes are not reported)', async () => {
    const { writer, batcher, send } = setup({ maxInFlight: 1 });
    const telemetry = new RecordingTelemetry();
    batcher.observe(telemetry);
    const results = Promise.all([send('a'), send('b'), send('c')]);
    (await writer.next()).finish();
    (await writer.next()).finish();
    await results;
    expect(telemetry.batches.map((batch) => batch.messages)).toEqual([1, 2]);
    const failed = outcome(send('bad'));
    (await writer.next()).finish(new Error('broken'));
    await vi.waitFor(() => expect(failed.state).toBe('rejected'));
    expect(telemetry.batches).toHaveLength(2);
  });

  it('retries a failed batch one append at a time, in order, so only the bad append fails', async () => {
    const { writer, send } = setup({ maxInFlight: 1 });
    const first = outcome(send('first'));
    const batch = [send('one'), send('resend'), send('bad'), send('two')].map(outcome);
    (await writer.next()).finish();
    const whole = await writer.next();
    expect(whole.bodies).toEqual(['one', 'resend', 'bad', 'two']);
    whole.finish(new Error('uq_message_cmid'));
    const failure = new AppError('USER_NOT_FOUND');
    for (const body of ['one', 'resend', 'bad', 'two']) {
      const alone = await writer.next();
      expect(alone.bodies).toEqual([body]);
      alone.finish(body === 'resend' ? new Error('duplicate') : body === 'bad' ? failure : undefined);
    }
    await vi.waitFor(() => expect(batch.every((o) => o.state !== 'pending')).toBe(true));
    expect(first.state).toBe('fulfilled');
    expect(batch.map((o) => o.state)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(batch[1]!.value?.duplicate).toBe(true);
    expect(batch[2]!.error).toBe(failure);
  });

  it('fails a whole batch at once when the database is unreachable, without retrying each append', async () => {
    const { writer, send } = setup({ maxInFlight: 1 });
    const first = outcome(send('first'));
    const batch = [send('one'), send('two'), send('three')].map(outcome);
    (await writer.next()).finish();
    const whole = await writer.next();
    const down = new AppError('UNAVAILABLE', 'database unreachable');
    whole.finish(down);
    await vi.waitFor(() => expect(batch.every((o) => o.state !== 'pending')).toBe(true));
    expect(first.state).toBe('fulfilled');
    expect(batch.map((o) => o.error)).toEqual([down, down, down]);
    expect(writer.writes).toHaveLength(2);
  });

  it('keeps at most maxQueued appends queued; later callers wait and are let in oldest first', async () => {
    vi.useFakeTimers();
    const { writer, batcher, send } = setup({ maxInFlight: 1, maxBatch: 2, maxQueued: 2, queueWaitMs: 3000 });
    const sends = ['x', 'a', 'b', 'c', 'd'].map((body) => outcome(send(body)));
    const first = await writer.next();
    expect(first.bodies).toEqual(['x']);
    // x commits, a and b fill the queue, c and d wait for room instead of growing it.
    expect(batcher.stats()).toEqual({ queued: 2, waiting: 2, inFlight: 1 });
    await vi.advanceTimersByTimeAsync(2000);
    first.finish();
    const second = await writer.next();
    expect(second.bodies).toEqual(['a', 'b']);
    expect(batcher.stats()).toEqual({ queued: 2, waiting: 0, inFlight: 1 });
    // Let in before their deadline: the wait timer no longer applies.
    await vi.advanceTimersByTimeAsync(5000);
    expect(sends.map((o) => o.state)).toEqual(['fulfilled', 'pending', 'pending', 'pending', 'pending']);
    second.finish();
    const third = await writer.next();
    expect(third.bodies).toEqual(['c', 'd']);
    third.finish();
    await vi.waitFor(() => expect(sends.every((o) => o.state === 'fulfilled')).toBe(true));
    expect(batcher.stats()).toEqual({ queued: 0, waiting: 0, inFlight: 0 });
  });

  it('fails a caller with UNAVAILABLE after queueWaitMs without room, and never writes its append', async () => {
    vi.useFakeTimers();
    const { writer, batcher, send } = setup({ maxInFlight: 1, maxBatch: 1, maxQueued: 1, queueWaitMs: 3000 });
    const [x, a, late] = ['x', 'a', 'late'].map((body) => outcome(send(body)));
    const first = await writer.next();
    await vi.advanceTimersByTimeAsync(2999);
    expect(late!.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(late!.state).toBe('rejected');
    expect(late!.error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(batcher.stats()).toEqual({ queued: 1, waiting: 0, inFlight: 1 });
    first.finish();
    (await writer.next()).finish();
    await vi.waitFor(() => expect([x!.state, a!.state]).toEqual(['fulfilled', 'fulfilled']));
    expect(writer.writes.map((w) => w.bodies)).toEqual([['x'], ['a']]);
  });

  it('fails at once with UNAVAILABLE when as many callers already wait as the queue holds', async () => {
    const { writer, batcher, send } = setup({ maxInFlight: 1, maxBatch: 1, maxQueued: 2 });
    const sends = ['x', 'a', 'b', 'c', 'd'].map((body) => outcome(send(body)));
    const refused = send('e');
    await expect(refused).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(batcher.stats()).toEqual({ queued: 2, waiting: 2, inFlight: 1 });
    for (const body of ['x', 'a', 'b', 'c', 'd']) {
      const write = await writer.next();
      expect(write.bodies).toEqual([body]);
      write.finish();
    }
    await vi.waitFor(() => expect(sends.every((o) => o.state === 'fulfilled')).toBe(true));
  });
});
