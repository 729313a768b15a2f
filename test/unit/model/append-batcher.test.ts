import { describe, expect, it, vi } from 'vitest';
import {
  AppendBatcher,
  type AppendBatchLimits,
  type AppendRequest,
  type AppendWriter,
} from '../../../src/model/append-batcher.js';
import { AppError } from '../../../src/errors.js';
import { storedMessage, type AppendResult } from '../../../src/service/ports.js';

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
});
