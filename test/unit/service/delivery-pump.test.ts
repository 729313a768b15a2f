import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/embedded/memory-store.js';
import { DeliveryPump } from '../../../src/service/delivery-pump.js';
import type { ChatStore, InboxEntry } from '../../../src/service/ports.js';
import { systemClock } from '../../../src/util/clock.js';
import type { SessionSink } from '../../../src/service/session-sink.js';

class RecordingSink implements SessionSink {
  readonly sessionId = 's';
  readonly seqs: number[] = [];
  closed = false;
  full = false;
  private drainWaiters: (() => void)[] = [];
  private seqWaiters: { seq: number; resolve: () => void }[] = [];

  deliver(entry: InboxEntry, onFlushed?: () => void): void {
    this.seqs.push(entry.seq);
    onFlushed?.();
    for (const w of this.seqWaiters.filter((x) => x.seq <= entry.seq)) w.resolve();
    this.seqWaiters = this.seqWaiters.filter((x) => x.seq > entry.seq);
  }
  writable(): boolean {
    return !this.full;
  }
  notify(): void {}
  waitWritable(): Promise<void> {
    return this.full ? new Promise((resolve) => this.drainWaiters.push(resolve)) : Promise.resolve();
  }
  drain(): void {
    this.full = false;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
  kick(): void {}
  reached(seq: number): Promise<void> {
    if (this.seqs.includes(seq)) return Promise.resolve();
    return new Promise((resolve) => this.seqWaiters.push({ seq, resolve }));
  }
}

async function setup(count: number): Promise<{
  store: ChatStore;
  userId: number;
  entries: InboxEntry[];
  send: (body: string) => Promise<InboxEntry>;
}> {
  const store = createMemoryStore(systemClock, 1000);
  const sender = await store.users.create('sender', 'h');
  const user = await store.users.create('user', 'h');
  const send = async (body: string): Promise<InboxEntry> => {
    const r = await store.messages.append(
      { senderId: sender.id, target: { kind: 'user', id: user.id }, body, clientTime: 't', cmid: null },
      [user.id],
    );
    return { seq: r.deliveries[0]!.seq, message: r.message };
  };
  const entries: InboxEntry[] = [];
  for (let i = 0; i < count; i++) entries.push(await send(`m${i}`));
  return { store, userId: user.id, entries, send };
}

describe('DeliveryPump', () => {
  it('replays the backlog after the start sequence in order, in pages', async () => {
    const { store, userId } = await setup(25);
    const sink = new RecordingSink();
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 4, onError: () => {} });
    pump.start(3);
    await sink.reached(25);
    expect(sink.seqs).toEqual(Array.from({ length: 22 }, (_, i) => i + 4));
  });

  it('delivers live entries directly and drops ones it already delivered', async () => {
    const { store, userId, send } = await setup(0);
    const sink = new RecordingSink();
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 10, onError: () => {} });
    pump.start(0);
    const first = await send('a');
    pump.offer(first);
    pump.offer(first);
    await sink.reached(1);
    expect(sink.seqs).toEqual([1]);
  });

  it('fills a gap from the store when a live entry skips sequences', async () => {
    const { store, userId, send } = await setup(0);
    const sink = new RecordingSink();
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 10, onError: () => {} });
    pump.start(0);
    await send('lost on the bus');
    const third = (await send('b'), await send('c'));
    pump.offer(third);
    await sink.reached(3);
    expect(sink.seqs).toEqual([1, 2, 3]);
  });

  it('ignores entries offered before start; start catches up from the store', async () => {
    const { store, userId, entries } = await setup(2);
    const sink = new RecordingSink();
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 10, onError: () => {} });
    pump.offer(entries[0]!);
    expect(sink.seqs).toEqual([]);
    pump.start(0);
    await sink.reached(2);
    expect(sink.seqs).toEqual([1, 2]);
  });

  it('skips the first inbox read when the session already has the last sequence', async () => {
    const { store, userId, send } = await setup(3);
    const sink = new RecordingSink();
    const reads: number[] = [];
    const counting = {
      ...store.messages,
      readInbox: (u: number, after: number, limit: number) => {
        reads.push(after);
        return store.messages.readInbox(u, after, limit);
      },
    };
    const pump = new DeliveryPump(userId, sink, counting, { pageSize: 10, onError: () => {} });
    pump.start(3, 3);
    expect(reads).toEqual([]);
    pump.offer(await send('next')); // a live entry that continues the sequence goes straight out
    await sink.reached(4);
    expect(reads).toEqual([]);
    expect(sink.seqs).toEqual([4]);
  });

  it('still reads first when the bus announced something before start, or the session is behind', async () => {
    const { store, userId, send } = await setup(3);
    const announced = new RecordingSink();
    const early = new DeliveryPump(userId, announced, store.messages, { pageSize: 10, onError: () => {} });
    const fourth = await send('committed after the cursor was read');
    early.offer(fourth); // arrives between the cursor read (lastSeq 3) and start
    early.start(3, 3);
    await announced.reached(4);
    expect(announced.seqs).toEqual([4]);
    const poked = new RecordingSink();
    const pokedPump = new DeliveryPump(userId, poked, store.messages, { pageSize: 10, onError: () => {} });
    pokedPump.requestCatchUp(); // a sync poke before start
    pokedPump.start(3, 3);
    await poked.reached(4);
    const behind = new RecordingSink();
    new DeliveryPump(userId, behind, store.messages, { pageSize: 10, onError: () => {} }).start(1, 4);
    await behind.reached(4);
    expect(behind.seqs).toEqual([2, 3, 4]);
  });

  it('waits for the sink to drain instead of buffering without bound', async () => {
    const { store, userId } = await setup(10);
    const sink = new RecordingSink();
    sink.full = true;
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 3, onError: () => {} });
    pump.start(0);
    await sink.reached(1);
    // One entry is written, then the pump waits for drain.
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.seqs).toEqual([1]);
    sink.drain();
    await sink.reached(10);
    expect(sink.seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });

  it('reports each flushed sequence when acking on flush (v1 semantics)', async () => {
    const { store, userId } = await setup(3);
    const sink = new RecordingSink();
    const flushed: number[] = [];
    const pump = new DeliveryPump(userId, sink, store.messages, {
      pageSize: 10,
      onFlushed: (seq) => flushed.push(seq),
      onError: () => {},
    });
    pump.start(0);
    await sink.reached(3);
    expect(flushed).toEqual([1, 2, 3]);
  });

  it('retries after a failing inbox read and then delivers', async () => {
    const { store, userId } = await setup(2);
    const sink = new RecordingSink();
    let failures = 1;
    const errors: unknown[] = [];
    const flaky = {
      ...store.messages,
      readInbox: (u: number, after: number, limit: number) =>
        failures-- > 0 ? Promise.reject(new Error('db down')) : store.messages.readInbox(u, after, limit),
    };
    const pump = new DeliveryPump(userId, sink, flaky, {
      pageSize: 10,
      onError: (e) => errors.push(e),
      retryDelayMs: 5,
    });
    pump.start(0);
    await sink.reached(2);
    expect(errors).toHaveLength(1);
    expect(sink.seqs).toEqual([1, 2]);
  });

  it('delivers nothing after stop', async () => {
    const { store, userId, send } = await setup(0);
    const sink = new RecordingSink();
    const pump = new DeliveryPump(userId, sink, store.messages, { pageSize: 10, onError: () => {} });
    pump.start(0);
    pump.stop();
    pump.offer(await send('late'));
    pump.requestCatchUp();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.seqs).toEqual([]);
  });
});
