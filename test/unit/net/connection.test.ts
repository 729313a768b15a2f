import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Connection,
  ConnectionState,
  type ChannelFault,
  type ConnectionHandler,
} from '../../../src/net/connection.js';
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
  write(text: string): void {
    this.written.push(text);
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
    this.events.closed();
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

function open(): { transport: FakeTransport; handler: RecordingHandler; connection: Connection } {
  const transport = new FakeTransport();
  const handler = new RecordingHandler();
  const connection = new Connection(transport, LIMITS);
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
    transport.events.frame('a');
    transport.events.frame('b');
    await Promise.resolve();
    expect(handler.handled).toEqual(['a']);
    await handler.release();
    expect(handler.handled).toEqual(['a', 'b']);
  });

  it('drops frames the handler does not admit', async () => {
    const { transport, handler } = open();
    handler.admitAll = false;
    transport.events.frame('a');
    await Promise.resolve();
    expect(handler.handled).toEqual([]);
  });

  it('pauses the transport while frames queue up and resumes once the queue is empty', async () => {
    const { transport, handler } = open();
    // 'a' is taken at once; b, c and d wait, and the third waiting frame pauses reading.
    for (const frame of ['a', 'b', 'c']) transport.events.frame(frame);
    expect(transport.paused).toBe(false);
    transport.events.frame('d');
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
    transport.events.drain();
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
    transport.events.frame('ping');
    vi.advanceTimersByTime(900);
    expect(handler.faults).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(handler.faults).toEqual(['IDLE_TIMEOUT']);
  });

  it('reports IDLE_TIMEOUT at a deadline that inbound frames do not push back', () => {
    const { transport, handler, connection } = open();
    connection.setDeadline(1000);
    vi.advanceTimersByTime(900);
    transport.events.frame('ping');
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

  it('runs no idle timer when told 0', () => {
    const { handler, connection } = open();
    connection.setIdleTimeout(1000);
    connection.setIdleTimeout(0);
    vi.advanceTimersByTime(60_000);
    expect(handler.faults).toEqual([]);
  });

  it('reports an oversize frame as PAYLOAD_TOO_LARGE and closes', () => {
    const { transport, handler, connection } = open();
    transport.events.oversize();
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
    transport.events.frame('late');
    await Promise.resolve();
    expect(handler.handled).toEqual([]);
    expect(handler.disconnects).toEqual(['CLIENT_CLOSED']);
    expect(connection.readyState).toBe(ConnectionState.CLOSED);
    connection.write('ignored');
    expect(transport.written).toEqual([]);
  });
});
