/**
 * Coalesces acknowledgements of one inbox: many acks in quick succession become one store write of the
 * highest sequence, with at most one write in flight. A failed write is retried with the next ack or flush.
 */
export class AckCoalescer {
  private pending = 0;
  private written = 0;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly write: (seq: number) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  ack(seq: number): void {
    if (seq <= this.pending) return;
    this.pending = seq;
    if (!this.inFlight) this.inFlight = this.flushLoop();
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
          return;
        }
      }
    } finally {
      this.inFlight = undefined;
    }
  }
}
