/** How a message reached a recipient's socket: straight from a bus event, or read back from the inbox. */
export type DeliveryPath = 'live' | 'catch_up';

/**
 * Latency observations of the chat path. A port, so that the service layer and the adapters stay free of
 * prom-client: the composition root fills it with Prometheus histograms (src/metrics.ts); tests and
 * tools that do not care use `noTelemetry`. Every method is cheap and synchronous, and must not throw.
 */
export interface Telemetry {
  /** One request frame was handled (handler finished or failed) `seconds` after it was taken up. */
  requestHandled(command: string, seconds: number): void;
  /** `MessageStore.append` for one message (its whole fan-out, queueing in a batch included) took `seconds`. */
  messageAppended(seconds: number): void;
  /** One store write appended `messages` messages together in `seconds` (MySQL batches). */
  appendBatchWritten(messages: number, seconds: number): void;
  /**
   * A bus event from another node arrived; `publishedAtMs` is the publisher's `preciseWallClockMs()` at
   * publish time (nodes on different hosts need synchronised clocks for this to mean anything).
   */
  busEventReceived(publishedAtMs: number): void;
  /** A message was handed to a recipient's socket; `acceptedAtMs` is its `createdAt` (ms since the epoch). */
  messageDelivered(path: DeliveryPath, acceptedAtMs: number): void;
}

/** Telemetry that records nothing. */
export const noTelemetry: Telemetry = {
  requestHandled: () => undefined,
  messageAppended: () => undefined,
  appendBatchWritten: () => undefined,
  busEventReceived: () => undefined,
  messageDelivered: () => undefined,
};

/** Starts timing; the returned function gives the seconds elapsed since (monotonic clock). */
export function stopwatch(): () => number {
  const start = performance.now();
  return () => (performance.now() - start) / 1000;
}

/**
 * Wall-clock time in milliseconds with sub-millisecond precision (Date.now() has whole ms only: too coarse
 * for a bus hop of ~100 µs). Both ends of a bus latency measurement use this.
 */
export function preciseWallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
