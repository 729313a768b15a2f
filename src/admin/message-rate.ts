/** How often the rate is sampled (the rate is the mean over the last window). */
const WINDOW_MS = 5000;

/** Messages stored per second on this node, over the last 5 s window (for the cluster view). */
export class MessageRate {
  private last: number;
  private rate = 0;
  private readonly timer: NodeJS.Timeout;

  /** `stored` reads the node's running count of stored messages. */
  constructor(private readonly stored: () => number) {
    this.last = stored();
    this.timer = setInterval(() => {
      const now = this.stored();
      this.rate = (now - this.last) / (WINDOW_MS / 1000);
      this.last = now;
    }, WINDOW_MS);
    this.timer.unref();
  }

  perSecond(): number {
    return this.rate;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
