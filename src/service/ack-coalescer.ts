/**
 * Coalesces acknowledgements of one inbox: many acks in quick succession become one store write of the
 * highest sequence, with at most one write in flight. A failed write is retried after `retryMs` (and with
 * the next ack), so a short database outage does not turn processed messages into redeliveries.
 */
export class AckCoalescer {
  private pending = 0;
  private written = 0;
  private inFlight: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly write: (seq: number) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly retryMs = 1000,
  ) {}

  ack(seq: number): void {
    if (seq <= this.pending) return;
    this.pending = seq;
    if (!this.inFlight) this.inFlight = this.flushLoop();
  }

  /** No more retries (the session ended; a pending ack is retried by the next session's acks). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** Resolves when every ack given so far was written (or failed). */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending > this.written) {
        const seq = this.pending;
        try {
          await this.write(seq);
          this.written = seq;
        } catch (error) {
          this.onError(error);
          this.scheduleRetry();
          return;
        }
      }
    } finally {
      this.inFlight = undefined;
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.inFlight && this.pending > this.written) this.inFlight = this.flushLoop();
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
