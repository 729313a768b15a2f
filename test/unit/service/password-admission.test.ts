import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { PasswordAdmission } from '../../../src/service/password-admission.js';
import type { PasswordHasher } from '../../../src/service/ports.js';

/** A hasher whose calls finish when the test says, recording their order. */
function manualHasher() {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  const hasher: PasswordHasher = {
    hash: (password) =>
      new Promise((resolve) => {
        started.push(password);
        finishers.push(() => resolve(`h:${password}`));
      }),
    verify: () => Promise.resolve(true),
  };
  return { hasher, started, finishNext: () => finishers.shift()!() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('PasswordAdmission', () => {
  it('runs a bounded number at once and serves waiting addresses in turn', async () => {
    const { hasher, started, finishNext } = manualHasher();
    const admission = new PasswordAdmission({ concurrency: 1, queue: 10, perIp: 10 });
    const all = [
      admission.for(hasher, 'A').hash('a1'),
      admission.for(hasher, 'A').hash('a2'),
      admission.for(hasher, 'A').hash('a3'),
      admission.for(hasher, 'B').hash('b1'),
    ];
    await tick();
    expect(started).toEqual(['a1']);
    for (let i = 0; i < 4; i++) {
      finishNext();
      await tick();
    }
    // After a1: A's turn went, so B comes before A's third.
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect(await Promise.all(all)).toEqual(['h:a1', 'h:a2', 'h:a3', 'h:b1']);
    expect(admission.stats()).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses at once with a retry hint when the queue or an address share is full', async () => {
    const { hasher, finishNext } = manualHasher();
    const admission = new PasswordAdmission({ concurrency: 1, queue: 1, perIp: 2 });
    const a = admission.for(hasher, 'A');
    const first = a.hash('1');
    const second = a.hash('2');
    await expect(a.hash('3')).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: expect.any(Number),
    });
    await expect(admission.for(hasher, 'B').hash('x')).rejects.toBeInstanceOf(AppError);
    await tick();
    finishNext();
    await tick();
    finishNext();
    await Promise.all([first, second]);
    // Everything released: B gets in now.
    const late = admission.for(hasher, 'B').hash('y');
    await tick();
    finishNext();
    expect(await late).toBe('h:y');
  });

  it('releases its counters when the work throws, even synchronously', async () => {
    const admission = new PasswordAdmission({ concurrency: 1, queue: 0, perIp: 1 });
    const broken: PasswordHasher = {
      hash: () => {
        throw new Error('boom');
      },
      verify: () => Promise.reject(new Error('bad')),
    };
    await expect(admission.for(broken, 'A').hash('x')).rejects.toThrow('boom');
    await expect(admission.for(broken, 'A').verify('x', 'y')).rejects.toThrow('bad');
    expect(admission.stats()).toEqual({ running: 0, waiting: 0 });
  });
});
