import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Connection,
  ConnectionState,
  type ChannelFault,
  type ConnectionHandler,
} from '../../../src/net/connection.js';
import { IdleTimers } from '../../../src/net/idle-timers.js';
import type { Transport, TransportEvents } from '../../../src/net/transport.js';

/** A transport whose buffer size and peer are driven by the test. */
class FakeTransport implements Transport {
  readonly kind = 'tcp';
  readonly remoteAddress = '127.0.0.1:1';
  readonly remoteIp = '127.0.0.1';
  events!: TransportEvents;
  readonly written: string[] = [];
  buffered = 0;
  paused = false;
  ended = false;
  destroyed = false;

  start(events: TransportEvents): void {
    this.events = events;
  }
  /** Flush callbacks of written frames, run by the test (`flush`). */
  readonly pendingFlushes: ((() => void) | undefined)[] = [];
  /** Which written frames were to go out alone (not coalesced with the tick's other writes). */
  readonly alone: boolean[] = [];
  write(text: string, onFlushed?: () => void, alone = false): void {
    this.written.push(text);
    this.alone.push(alone);
    this.pendingFlushes.push(onFlushed);
  }
  /** The OS took the oldest written frame. */
  flush(): void {
    this.pendingFlushes.shift()?.();
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  setFrameAlignment(): void {}
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.events.onClosed();
  }
}

/** Records what the connection tells its handler; `handle` waits until the test releases it. */
class RecordingHandler implements ConnectionHandler {
  readonly handled: string[] = [];
  readonly faults: ChannelFault[] = [];
  readonly disconnects: string[] = [];
  admitAll = true;
  private releases: (() => void)[] = [];

  admit(): boolean {
    return this.admitAll;
  }
  handle(frame: string): Promise<void> {
    this.handled.push(frame);
    return new Promise((resolve) => this.releases.push(resolve));
  }
  fault(fault: ChannelFault): void {
    this.faults.push(fault);
  }
  disconnected(reason: string): void {
    this.disconnects.push(reason);
  }
  /** Lets the oldest pending `handle` finish. */
  async release(): Promise<void> {
    this.releases.shift()?.();
    await Promise.resolve();
    await Promise.resolve();
  }
}

const LIMITS = {
  outboundHighWaterBytes: 100,
  outboundMaxBytes: 1000,
  slowConsumerTimeoutMs: 5000,
  pauseAtQueued: 3,
  closeTimeoutMs: 2000,
};

function open(idleTimers?: IdleTimers): {
  transport: FakeTransport;
  handler: RecordingHandler;
  connection: Connection;
} {
  const transport = new FakeTransport();
  const handler = new RecordingHandler();
  const connection = new Connection(transport, LIMITS, idleTimers);
  connection.start(handler);
  return { transport, handler, connection };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Connection (frame channel)', () => {
  it('hands frames to the handler one at a time, the next only after the previous settled', async () => {
    const { transport, handler } = open();
    transport.events.onFrame('a');
    transport.events.onFrame('b');
    await Promise.resolve();
    expect(handler.handled).toEqual(['a']);
    await handler.release();
    expect(handler.handled).toEqual(['a', 'b']);
  });

  it('drops frames the handler does not admit', async () => {
    const { transport, handler } = open();
    handler.admitAll = false;
    transport.events.onFrame('a');
    await Promise.resolve();
    expect(handler.handled).toEqual([]);
  });

  it('pauses the transport while frames queue up and resumes once the queue is empty', async () => {
    const { transport, handler } = open();
    // 'a' is taken at once; b, c and d wait, and the third waiting frame pauses reading.
    for (const frame of ['a', 'b', 'c']) transport.events.onFrame(frame);
    expect(transport.paused).toBe(false);
    transport.events.onFrame('d');
    expect(transport.paused).toBe(true);
    for (let i = 0; i < 4; i++) await handler.release();
    await Promise.resolve();
    expect(handler.handled).toEqual(['a', 'b', 'c', 'd']);
    expect(transport.paused).toBe(false);
  });

  it('reports SLOW_CONSUMER after the timeout above the high-water mark, and closes', () => {
    const { transport, handler, connection } = open();
    transport.buffered = 500;
    connection.write('x');
    expect(connection.writable()).toBe(false);
    vi.advanceTimersByTime(4999);
    expect(handler.faults).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(handler.faults).toEqual(['SLOW_CONSUMER']);
    expect(connection.readyState).toBe(ConnectionState.CLOSING);
    expect(transport.ended).toBe(true);
  });

  it('forgets the slow-consumer timer when the buffer drains, and wakes writers waiting for room', async () => {
    const { transport, handler, connection } = open();
    transport.buffered = 500;
    connection.write('x');
    let woke = false;
    void connection.waitWritable().then(() => (woke = true));
    transport.buffered = 0;
    transport.events.onDrain();
    await Promise.resolve();
    expect(woke).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(handler.faults).toEqual([]);
    expect(connection.closed).toBe(false);
  });

  it('closes at once, without a fault to answer, above the hard cap', () => {
    const { transport, handler, connection } = open();
    transport.buffered = 5000;
    connection.write('x');
    expect(transport.destroyed).toBe(true);
    expect(handler.faults).toEqual([]);
    expect(handler.disconnects).toEqual(['SLOW_CONSUMER']);
  });

  it('reports IDLE_TIMEOUT after the idle time it was told, refreshed by every inbound frame', () => {
    const { transport, handler, connection } = open();
    connection.setIdleTimeout(1000);
    vi.advanceTimersByTime(900);
    transport.events.onFrame('ping');
    vi.advanceTimersByTime(900);
    expect(handler.faults).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(handler.faults).toEqual(['IDLE_TIMEOUT']);
  });

  it('reports IDLE_TIMEOUT at a deadline that inbound frames do not push back', () => {
    const { transport, handler, connection } = open();
    connection.setDeadline(1000);
    vi.advanceTimersByTime(900);
    transport.events.onFrame('ping');
    vi.advanceTimersByTime(100);
    expect(handler.faults).toEqual(['IDLE_TIMEOUT']);
  });

  it('forgets a deadline set to 0', () => {
    const { handler, connection } = open();
    connection.setDeadline(1000);
    connection.setDeadline(0);
    vi.advanceTimersByTime(5000);
    expect(handler.faults).toEqual([]);
  });

  it('closes only the idle ones of many connections sharing one idle timer', () => {
    const shared = new IdleTimers();
    const conns = Array.from({ length: 100 }, () => open(shared));
    for (const { connection } of conns) connection.setIdleTimeout(1000);
    // One timer serves them all (a Timeout per connection is what this saves).
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(600);
    for (const { transport } of conns.slice(0, 50)) transport.events.onFrame('ping');
    vi.advanceTimersByTime(399);
    expect(conns.filter((c) => c.handler.faults.length > 0)).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(conns.slice(50).every((c) => c.handler.faults.join() === 'IDLE_TIMEOUT')).toBe(true);
    expect(conns.slice(0, 50).every((c) => c.handler.faults.length === 0)).toBe(true);
    vi.advanceTimersByTime(599);
    expect(conns.slice(0, 50).every((c) => c.handler.faults.length === 0)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(conns.every((c) => c.handler.faults.join() === 'IDLE_TIMEOUT')).toBe(true);
    // Every member gone: once the close timeouts ran, no timer is left.
    vi.advanceTimersByTime(LIMITS.closeTimeoutMs);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops a shared idle timeout when the connection closes or is told 0', () => {
    const shared = new IdleTimers();
    const a = open(shared);
    const b = open(shared);
    a.connection.setIdleTimeout(1000);
    b.connection.setIdleTimeout(1000);
    a.connection.close('BYE', true);
    b.connection.setIdleTimeout(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(a.handler.faults).toEqual([]);
    expect(b.handler.faults).toEqual([]);
  });

  it('keeps different idle timeouts apart on one shared timer set', () => {
    const shared = new IdleTimers();
    const short = open(shared);
    const long = open(shared);
    short.connection.setIdleTimeout(500);
    long.connection.setIdleTimeout(2000);
    vi.advanceTimersByTime(500);
    expect(short.handler.faults).toEqual(['IDLE_TIMEOUT']);
    expect(long.handler.faults).toEqual([]);
    vi.advanceTimersByTime(1500);
    expect(long.handler.faults).toEqual(['IDLE_TIMEOUT']);
  });

  it('runs no idle timer when told 0', () => {
    const { handler, connection } = open();
    connection.setIdleTimeout(1000);
    connection.setIdleTimeout(0);
    vi.advanceTimersByTime(60_000);
    expect(handler.faults).toEqual([]);
  });

  it('reports an oversize frame as PAYLOAD_TOO_LARGE and closes', () => {
    const { transport, handler, connection } = open();
    transport.events.onOversize();
    expect(handler.faults).toEqual(['PAYLOAD_TOO_LARGE']);
    expect(connection.closed).toBe(true);
  });

  it('closes gracefully, destroys after the close timeout, and reports the reason once', () => {
    const { transport, handler, connection } = open();
    connection.close('KICKED');
    connection.close('FLOODING');
    expect(transport.ended).toBe(true);
    expect(transport.destroyed).toBe(false);
    vi.advanceTimersByTime(2000);
    expect(transport.destroyed).toBe(true);
    expect(handler.disconnects).toEqual(['KICKED']);
  });

  it('reports CLIENT_CLOSED when the peer goes, and handles nothing after the close', async () => {
    const { transport, handler, connection } = open();
    transport.destroy();
    transport.events.onFrame('late');
    await Promise.resolve();
    expect(handler.handled).toEqual([]);
    expect(handler.disconnects).toEqual(['CLIENT_CLOSED']);
    expect(connection.readyState).toBe(ConnectionState.CLOSED);
    connection.write('ignored');
    expect(transport.written).toEqual([]);
  });

  describe('paced', () => {
    function paced() {
      const opened = open();
      opened.connection.setPacing(5);
      return opened;
    }

    it('writes one frame, the next only after the previous was flushed and the gap passed', () => {
      const { transport, connection } = paced();
      const flushed: string[] = [];
      for (const frame of ['a', 'b', 'c']) connection.write(frame, () => flushed.push(frame));
      expect(transport.written).toEqual(['a']);
      vi.advanceTimersByTime(100);
      expect(transport.written).toEqual(['a']);
      transport.flush();
      expect(flushed).toEqual(['a']);
      vi.advanceTimersByTime(4);
      expect(transport.written).toEqual(['a']);
      vi.advanceTimersByTime(1);
      expect(transport.written).toEqual(['a', 'b']);
      // One frame per write anyway: nothing to coalesce, so each goes to the OS at once.
      expect(transport.alone).toEqual([true, true]);
    });

    it('lets unpaced writes coalesce with the rest of the tick', () => {
      const { transport, connection } = open();
      connection.write('a');
      expect(transport.alone).toEqual([false]);
    });

    it('is not writable while the paced queue is full, and wakes writers as it drains', async () => {
      const { transport, connection } = paced();
      for (let i = 0; i < 5; i++) connection.write(`f${i}`);
      // f0 is on its way; f1..f4 wait, pacedQueueFrames is 16 by default: still writable.
      expect(connection.writable()).toBe(true);
      for (let i = 5; i < 17; i++) connection.write(`f${i}`);
      expect(connection.writable()).toBe(false);
      let woke = false;
      void connection.waitWritable().then(() => (woke = true));
      transport.flush();
      vi.advanceTimersByTime(5);
      await Promise.resolve();
      expect(woke).toBe(true);
    });

    it('on a graceful close, still writes the waiting frames one at a time, then ends', () => {
      const { transport, connection } = paced();
      connection.write('a');
      connection.write('error-then-close');
      connection.close('FLOODING');
      expect(transport.ended).toBe(false);
      transport.flush();
      vi.advanceTimersByTime(5);
      expect(transport.written).toEqual(['a', 'error-then-close']);
      transport.flush();
      vi.advanceTimersByTime(5);
      expect(transport.ended).toBe(true);
    });

    it('writes whatever waits at once when pacing is turned off', () => {
      const { transport, connection } = paced();
      for (const frame of ['a', 'b', 'c']) connection.write(frame);
      connection.setPacing(0);
      expect(transport.written).toEqual(['a', 'b', 'c']);
      connection.write('d');
      expect(transport.written).toEqual(['a', 'b', 'c', 'd']);
    });

    it('never runs the flush callback of a frame dropped with the connection', () => {
      const { transport, connection } = paced();
      const flushed: string[] = [];
      connection.write('a', () => flushed.push('a'));
      connection.write('b', () => flushed.push('b'));
      transport.destroy();
      vi.advanceTimersByTime(100);
      transport.flush();
      expect(flushed).toEqual(['a']);
      expect(transport.written).toEqual(['a']);
    });
  });
});
