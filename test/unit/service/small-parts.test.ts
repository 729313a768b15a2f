import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AckCoalescer } from '../../../src/service/ack-coalescer.js';
import { SessionTokens } from '../../../src/service/session-tokens.js';
import {
  checkBody,
  checkGroupDesc,
  checkName,
  checkPassword,
  formatLegacyTime,
  wellFormed,
} from '../../../src/service/text-rules.js';
import { TokenBucket } from '../../../src/util/token-bucket.js';

const clockAt = (start: number) => {
  const clock = { t: start, now: () => clock.t };
  return clock;
};

describe('SessionTokens', () => {
  it('verifies its own tokens and rejects tampered, foreign and expired ones', () => {
    const clock = clockAt(1_000);
    const tokens = new SessionTokens('secret-secret-secret', 60_000, clock);
    const token = tokens.issue(42, 3, 'phone', 7);
    expect(tokens.verify(token)).toEqual({
      userId: 42,
      epoch: 3,
      expiresAt: 61_000,
      device: 'phone',
      deviceEpoch: 7,
    });
    // A token from before devices (three fields) belongs to the default device.
    const old = Buffer.from(JSON.stringify([42, 3, 61_000])).toString('base64url');
    const oldSig = createHmac('sha256', 'secret-secret-secret').update(old).digest('base64url');
    expect(tokens.verify(`${old}.${oldSig}`)).toEqual({
      userId: 42,
      epoch: 3,
      expiresAt: 61_000,
      device: 'default',
      deviceEpoch: 0,
    });
    expect(new SessionTokens('another-secret-value', 60_000, clock).verify(token)).toBeUndefined();
    const [payload, sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify([1, 3, 61_000])).toString('base64url');
    expect(tokens.verify(`${forged}.${sig}`)).toBeUndefined();
    expect(tokens.verify(`${payload}.${sig!.slice(0, -2)}xx`)).toBeUndefined();
    expect(tokens.verify('garbage')).toBeUndefined();
    expect(tokens.verify('')).toBeUndefined();
    clock.t = 61_000;
    expect(tokens.verify(token)).toBeUndefined();
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const clock = clockAt(0);
    const bucket = new TokenBucket(2, 3, clock);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    clock.t = 500;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    clock.t = 10_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

describe('AckCoalescer', () => {
  it('writes only the highest sequence with one write in flight', async () => {
    const writes: number[] = [];
    let release: () => void = () => {};
    const write = vi.fn((seq: number) => {
      writes.push(seq);
      return new Promise<void>((resolve) => (release = resolve));
    });
    const acks = new AckCoalescer(write, () => {});
    acks.ack(1);
    acks.ack(2);
    acks.ack(5);
    acks.ack(3);
    expect(writes).toEqual([1]);
    release();
    await Promise.resolve();
    await Promise.resolve();
    expect(writes).toEqual([1, 5]);
    release();
    await acks.flush();
    expect(writes).toEqual([1, 5]);
  });

  it('retries a failed write by itself after the retry delay', async () => {
    vi.useFakeTimers();
    try {
      let fail = true;
      const written: number[] = [];
      const acks = new AckCoalescer(
        (seq) => (fail ? Promise.reject(new Error('down')) : (written.push(seq), Promise.resolve())),
        () => {},
        1000,
      );
      acks.ack(3);
      await acks.flush();
      fail = false;
      await vi.advanceTimersByTimeAsync(1000);
      await acks.flush();
      expect(written).toEqual([3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports a failed write and writes again on the next ack', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const written: number[] = [];
    const acks = new AckCoalescer(
      (seq) => (fail ? Promise.reject(new Error('down')) : (written.push(seq), Promise.resolve())),
      (e) => errors.push(e),
    );
    acks.ack(4);
    await acks.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    acks.ack(6);
    await acks.flush();
    expect(written).toEqual([6]);
  });
});

describe('text rules', () => {
  it('accepts ordinary names and refuses empty, padded, long or control-character names', () => {
    expect(checkName('Zoë 张', 'name')).toBe('Zoë 张');
    for (const bad of ['', '   ', ' x', 'x ', 'a'.repeat(51), 'a\u0000b', 'tab\there']) {
      expect(() => checkName(bad, 'name')).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    }
    expect(checkName('名'.repeat(50), 'name')).toHaveLength(50);
  });

  it('refuses empty passwords and passwords over 72 bytes (bcrypt would truncate them)', () => {
    expect(checkPassword('x'.repeat(72))).toHaveLength(72);
    expect(() => checkPassword('')).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    expect(() => checkPassword('é'.repeat(37))).toThrow(/72 bytes/);
  });

  it('bounds message bodies', () => {
    expect(() => checkBody('', 10)).toThrow(/empty/);
    expect(() => checkBody('x'.repeat(11), 10)).toThrow(/longer than 10/);
    expect(checkBody('x'.repeat(10), 10)).toHaveLength(10);
  });

  it('turns lone surrogates in text into U+FFFD and refuses them in names', () => {
    expect(wellFormed('a\ud800b')).toBe('a\ufffdb');
    expect(wellFormed('\udc00x\ud83d')).toBe('\ufffdx\ufffd');
    // Pairs are text, not damage: emoji and astral characters pass unchanged.
    expect(wellFormed('ok 🎉 𝄞')).toBe('ok 🎉 𝄞');
    expect(wellFormed('\ud83d\ude00\ud83d')).toBe('😀\ufffd');
    expect(checkBody('hi \ud800', 100)).toBe('hi \ufffd');
    expect(() => checkName('bad\udfff', 'name')).toThrow(/not valid Unicode/);
    expect(() => checkGroupDesc('x\ud800')).toThrow(/not valid Unicode/);
    expect(checkName('🎉 party', 'name')).toBe('🎉 party');
  });

  it('formats the ancestor time string', () => {
    expect(formatLegacyTime(Date.now())).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // Local time, zero-padded; the cached second must not leak into the next one (or back).
    const t = new Date(2024, 0, 2, 3, 4, 5).getTime();
    expect(formatLegacyTime(t)).toBe('2024-01-02 03:04:05');
    expect(formatLegacyTime(t + 999)).toBe('2024-01-02 03:04:05');
    expect(formatLegacyTime(t + 1000)).toBe('2024-01-02 03:04:06');
    expect(formatLegacyTime(t - 1)).toBe('2024-01-02 03:04:04');
    expect(formatLegacyTime(new Date(2024, 11, 31, 23, 59, 59).getTime())).toBe('2024-12-31 23:59:59');
  });
});
