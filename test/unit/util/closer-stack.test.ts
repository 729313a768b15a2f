import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloserStack, type CloserFailure } from '../../../src/util/closer-stack.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CloserStack', () => {
  it('runs the closers in reverse order of registration, one after the other', async () => {
    const stack = new CloserStack();
    const log: string[] = [];
    for (const name of ['store', 'bus', 'admin', 'chat'])
      stack.add(name, async () => {
        log.push(`${name} start`);
        await Promise.resolve();
        log.push(`${name} end`);
      });
    expect(await stack.close()).toEqual([]);
    expect(log).toEqual([
      'chat start',
      'chat end',
      'admin start',
      'admin end',
      'bus start',
      'bus end',
      'store start',
      'store end',
    ]);
    expect(stack.size).toBe(0);
  });

  it('moves on from a closer that throws or rejects, and reports it', async () => {
    const reported: CloserFailure[] = [];
    const stack = new CloserStack({ onFailure: (failure) => reported.push(failure) });
    const closed: string[] = [];
    stack.add('store', () => void closed.push('store'));
    stack.add('sync throw', () => {
      throw new Error('boom');
    });
    stack.add('async reject', () => Promise.reject(new Error('bang')));
    stack.add('chat', () => void closed.push('chat'));
    const failures = await stack.close();
    expect(closed).toEqual(['chat', 'store']);
    expect(failures.map((f) => [f.name, (f.error as Error).message, f.timedOut])).toEqual([
      ['async reject', 'bang', false],
      ['sync throw', 'boom', false],
    ]);
    expect(reported).toEqual(failures);
  });

  it('gives each closer its time limit, then goes on without it', async () => {
    const stack = new CloserStack({ timeoutMs: 1000 });
    const closed: string[] = [];
    stack.add('store', () => void closed.push('store'));
    stack.add('hangs', () => new Promise<void>(() => {}));
    stack.add('slow but allowed', () => new Promise<void>((resolve) => setTimeout(resolve, 3000)), {
      timeoutMs: 5000,
    });
    let result: readonly CloserFailure[] | undefined;
    void stack.close().then((failures) => (result = failures));
    await vi.advanceTimersByTimeAsync(2999);
    expect(closed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // the slow one finished within its own limit
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1); // the hanging one's second is up
    expect(closed).toEqual(['store']);
    expect(result?.map((f) => [f.name, f.timedOut])).toEqual([['hangs', true]]);
    expect((result?.[0]?.error as Error).message).toMatch(/hangs: not closed within 1000 ms/);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is idempotent: a second close returns the same result and runs nothing again', async () => {
    const stack = new CloserStack();
    const close = vi.fn();
    stack.add('once', close);
    const first = stack.close();
    const second = stack.close();
    expect(second).toBe(first);
    await first;
    await stack.close();
    expect(close).toHaveBeenCalledTimes(1);
    expect(stack.isClosing).toBe(true);
  });

  it('runs a closer added after closing began at once, so a late resource is not leaked', async () => {
    const reported: string[] = [];
    const stack = new CloserStack({ onFailure: (f) => reported.push(f.name) });
    await stack.close();
    const late = vi.fn();
    stack.add('late', late);
    expect(late).toHaveBeenCalledTimes(1);
    stack.add('late failing', () => Promise.reject(new Error('no')));
    await vi.advanceTimersByTimeAsync(0);
    expect(reported).toEqual(['late failing']);
    expect(stack.size).toBe(0);
  });

  it('stops waiting at an overall deadline and starts every remaining closer at once', async () => {
    const stack = new CloserStack({ timeoutMs: 10_000 });
    const started: string[] = [];
    stack.add('store', () => void started.push('store'));
    stack.add('bus', () => {
      started.push('bus');
      return new Promise<void>(() => {});
    });
    stack.add('slow', () => {
      started.push('slow');
      return new Promise<void>((resolve) => setTimeout(resolve, 2000));
    });
    let result: readonly CloserFailure[] | undefined;
    void stack.close({ deadlineMs: 3000 }).then((failures) => (result = failures));
    await vi.advanceTimersByTimeAsync(2999);
    expect(started).toEqual(['slow', 'bus']);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['slow', 'bus', 'store']);
    expect(result?.map((f) => [f.name, f.timedOut])).toEqual([['bus', true]]);
    expect(stack.size).toBe(0);
  });
});
