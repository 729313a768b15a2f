import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../../src/embedded/local-bus.js';
import { createMemoryStore } from '../../../src/embedded/memory-store.js';
import { DeliveryPump } from '../../../src/service/delivery-pump.js';
import { MessageService } from '../../../src/service/message-service.js';
import type { InboxEntry } from '../../../src/service/ports.js';
import type { SessionSink } from '../../../src/service/session-sink.js';
import { RecordingTelemetry } from '../../helpers/recording-telemetry.js';

const clock = { now: () => 1_700_000_000_000 };

async function setup() {
  const store = createMemoryStore(clock, 100);
  const alice = await store.users.create('alice', 'h');
  const bob = await store.users.create('bob', 'h');
  const telemetry = new RecordingTelemetry();
  const service = new MessageService(
    store,
    new LocalBus(),
    clock,
    { maxMessageChars: 1000, pageSize: 100 },
    pino({ level: 'silent' }),
    telemetry,
  );
  const send = async (body: string): Promise<InboxEntry> => {
    const result = await service.send({ senderId: alice.id, target: { kind: 'user', id: bob.id }, body });
    return { seq: result.deliveries[0]!.seq, message: result.message };
  };
  return { store, bob, telemetry, send };
}

function sink(): SessionSink & { seqs: number[] } {
  const seqs: number[] = [];
  return {
    sessionId: 's',
    seqs,
    closed: false,
    deliver: (entry) => void seqs.push(entry.seq),
    writable: () => true,
    waitWritable: () => Promise.resolve(),
    kick: () => undefined,
    notify: () => undefined,
  };
}

describe('telemetry hooks of the service', () => {
  it('times every append as the sender waits for it', async () => {
    const { telemetry, send } = await setup();
    await send('one');
    await send('two');
    expect(telemetry.appends).toHaveLength(2);
    for (const seconds of telemetry.appends) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it("reports each delivery with its path and the message's acceptance time", async () => {
    const { store, bob, telemetry, send } = await setup();
    const backlog = await send('waiting');
    const out = sink();
    const pump = new DeliveryPump(bob.id, out, store.messages, {
      pageSize: 10,
      onError: () => {},
      telemetry,
    });
    pump.start(0);
    await expect.poll(() => out.seqs).toEqual([1]);
    const live = await send('live');
    pump.offer(live);
    expect(out.seqs).toEqual([1, 2]);
    expect(telemetry.deliveries).toEqual([
      { path: 'catch_up', acceptedAtMs: backlog.message.createdAt },
      { path: 'live', acceptedAtMs: clock.now() },
    ]);
  });
});
