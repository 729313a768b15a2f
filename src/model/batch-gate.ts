/**
 * Batching for DataLoader like a group commit: a batch goes out on the next event-loop turn when none of
 * this loader's is in flight, otherwise once the one in flight has answered (or after `maxWaitMs`), taking
 * every load that arrived meanwhile. Idle, a load waits one event-loop turn (the loads of every I/O callback of that turn go together); under load — a
 * login or reconnect storm, one load a millisecond — batches grow to what arrives during a round trip
 * instead of going out nearly one by one, and each statement saved is a socket write and a wake-up of
 * MariaDB on both sides.
 */
export class BatchGate {
  private inFlight: Promise<unknown> | undefined;

  constructor(private readonly maxWaitMs = 20) {}

  /** DataLoader's `batchScheduleFn`. */
  readonly schedule = (flush: () => void): void => {
    setImmediate(() => {
      const previous = this.inFlight;
      if (previous === undefined) {
        flush();
        return;
      }
      let done = false;
      const go = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        flush();
      };
      const timer = setTimeout(go, this.maxWaitMs);
      previous.then(go, go);
    });
  };

  /** Wraps the loader's batch function: marks its query in flight until it settles. */
  track<T>(batch: Promise<T>): Promise<T> {
    this.inFlight = batch;
    const clear = (): void => {
      if (this.inFlight === batch) this.inFlight = undefined;
    };
    batch.then(clear, clear);
    return batch;
  }
}
