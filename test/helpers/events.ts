import type { EventEmitter } from 'node:events';

/** Resolves with the arguments of the next `event`, or rejects after timeoutMs. */
export function once<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`event '${event}' not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    };
    emitter.once(event, listener);
  });
}

/** Collects `count` emissions of `event`. */
export function collect<T>(
  emitter: EventEmitter,
  event: string,
  count: number,
  timeoutMs = 10_000,
): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`saw ${items.length} of ${count} '${event}' events within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (item: T) => {
      items.push(item);
      if (items.length < count) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(items);
    };
    emitter.on(event, listener);
  });
}
