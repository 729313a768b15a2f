/**
 * Waits until `missing()` is 0 or `timeoutMs` passed. The caller wakes everything in `waiters` on each
 * delivery; a 200 ms poll bounds a wake that was missed.
 */
export async function waitDrained(
  missing: () => number,
  waiters: (() => void)[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (missing() > 0 && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 200).unref();
    });
  }
}
