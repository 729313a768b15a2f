import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { V1DeliveryConfirmer } from '../../../src/protocol/v1-delivery-confirmer.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function confirmer(idle = () => true) {
  const confirmed: number[] = [];
  const c = new V1DeliveryConfirmer({ now: () => Date.now() }, 1000, {
    bufferedBytes: () => (idle() ? 0 : 1),
  });
  c.bind((seq) => confirmed.push(seq));
  return { c, confirmed };
}

describe('V1DeliveryConfirmer', () => {
  it('confirms a delivery once the connection stayed open for the settle time after it', () => {
    const { c, confirmed } = confirmer();
    c.flushed(1);
    vi.advanceTimersByTime(500);
    c.flushed(2);
    vi.advanceTimersByTime(499);
    expect(confirmed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(confirmed).toEqual([1]);
    vi.advanceTimersByTime(500);
    expect(confirmed).toEqual([1, 2]);
    expect(c.pending).toBe(0);
  });

  it('after everything was confirmed (its arrays emptied), confirms later deliveries in order', () => {
    const { c, confirmed } = confirmer();
    c.flushed(1);
    c.flushed(2);
    c.confirmAll();
    expect(confirmed).toEqual([2]);
    expect(c.pending).toBe(0);
    c.flushed(3);
    vi.advanceTimersByTime(10);
    c.flushed(4);
    expect(c.pending).toBe(2);
    vi.advanceTimersByTime(990);
    expect(confirmed).toEqual([2, 3]);
    vi.advanceTimersByTime(10);
    expect(confirmed).toEqual([2, 3, 4]);
    expect(c.pending).toBe(0);
  });

  it('confirms what was flushed before the previous frame from the client, and all on a clean logout', () => {
    const { c, confirmed } = confirmer();
    c.flushed(1);
    vi.advanceTimersByTime(10);
    // A request may have crossed delivery 1 in flight: it proves nothing yet.
    c.alive();
    expect(confirmed).toEqual([]);
    vi.advanceTimersByTime(10);
    c.flushed(2);
    vi.advanceTimersByTime(10);
    // The next one does, for what was flushed before the first arrived.
    c.alive();
    expect(confirmed).toEqual([1]);
    c.confirmAll();
    expect(confirmed).toEqual([1, 2]);
  });

  it('confirms nothing more once stopped (a disconnect without loginout)', () => {
    const { c, confirmed } = confirmer();
    c.flushed(1);
    c.stop();
    vi.advanceTimersByTime(5000);
    c.alive();
    expect(confirmed).toEqual([]);
  });

  it('does not count staying open while output is backed up', () => {
    let idle = false;
    const { c, confirmed } = confirmer(() => idle);
    c.flushed(1);
    vi.advanceTimersByTime(3000);
    expect(confirmed).toEqual([]);
    idle = true;
    vi.advanceTimersByTime(1000);
    expect(confirmed).toEqual([1]);
  });
});
