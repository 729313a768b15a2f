/**
 * v1 clients send no acks, so whether they showed a message is inferred: a delivery counts once the
 * connection showed it was still alive after the write — two later requests from it (see `alive`), a clean
 * `loginout`, or staying open for `settleMs` while nothing was waiting to be written to it. A connection that drops
 * sooner (a crash, a reset) leaves the unconfirmed deliveries in the inbox, and they come again, once,
 * at the next login: a bounded duplicate risk instead of a loss.
 */
export class V1DeliveryConfirmer {
  /** Flushed sequences with their flush time, oldest first; `head` skips the confirmed ones. */
  private seqs: number[] = [];
  private times: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastFrameAt: number | undefined;
  /** Acknowledges everything up to `seq` in the store; set once the session is attached. */
  private confirm: ((seq: number) => void) | undefined;

  // Objects with methods rather than closures: nothing allocated per connection for them.
  constructor(
    private readonly clock: { now(): number },
    private readonly settleMs: number,
    /** Nothing waits to be written when 0: a backed-up connection proves nothing by staying open. */
    private readonly outbound: { bufferedBytes(): number },
  ) {}

  /** Where confirmations go: the live session's acks. */
  bind(confirm: (seq: number) => void): void {
    this.confirm = confirm;
  }

  /** A delivery up to `seq` was handed to the OS. */
  flushed(seq: number): void {
    if (this.stopped) return;
    this.seqs.push(seq);
    this.times.push(this.clock.now());
    if (this.settleMs === 0) {
      this.confirmUpTo(this.clock.now());
      return;
    }
    this.schedule();
  }

  /**
   * The client sent something. It lived past what was written to it before its *previous* frame arrived:
   * a request can cross a delivery in flight (sent before the client read it), so the frame just arrived
   * proves nothing about deliveries flushed a moment ago — the next one will.
   */
  alive(): void {
    const previous = this.lastFrameAt;
    this.lastFrameAt = this.clock.now();
    if (previous !== undefined) this.confirmUpTo(previous);
  }

  /** A clean logout: the client saw everything written before it. */
  confirmAll(): void {
    this.confirmUpTo(this.clock.now());
  }

  /** Unconfirmed deliveries (for tests and metrics). */
  get pending(): number {
    return this.seqs.length - this.head;
  }

  /** The session ended without a clean logout: unconfirmed deliveries stay in the inbox. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.seqs = [];
    this.times = [];
    this.head = 0;
  }

  private schedule(): void {
    if (this.timer || this.head >= this.seqs.length) return;
    const due = this.times[this.head]! + this.settleMs - this.clock.now();
    this.timer = setTimeout(V1DeliveryConfirmer.fire, Math.max(due, 1), this);
    this.timer.unref();
  }

  /** The timers' callback, shared (no closure per timer). */
  private static fire(this: void, confirmer: V1DeliveryConfirmer): void {
    confirmer.onTimer();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.outbound.bufferedBytes() === 0) this.confirmUpTo(this.clock.now() - this.settleMs);
    else if (this.head < this.seqs.length) {
      // Still writing to it: look again once the settle time passed after now.
      this.timer = setTimeout(V1DeliveryConfirmer.fire, this.settleMs, this);
      this.timer.unref();
      return;
    }
    this.schedule();
  }

  private confirmUpTo(time: number): void {
    let last: number | undefined;
    while (this.head < this.seqs.length && this.times[this.head]! <= time) {
      last = this.seqs[this.head]!;
      this.head++;
    }
    if (this.head === this.seqs.length) {
      // All confirmed: `length = 0` frees the arrays' backing stores, which an idle connection would
      // otherwise keep at their high-water size.
      this.seqs.length = 0;
      this.times.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    if (last !== undefined) this.confirm?.(last);
  }
}
