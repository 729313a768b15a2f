import type { InboxEntry, MessageStore, UserId } from './ports.js';
import type { SessionSink } from './session-sink.js';
import { noTelemetry, type DeliveryPath, type Telemetry } from './telemetry.js';

export interface DeliveryPumpOptions {
  readonly pageSize: number;
  /** Called with each sequence after its bytes were flushed (v1 clients count that as delivered). */
  readonly onFlushed?: (seq: number) => void;
  /**
   * Entries this session does not show (a v1 client's own sends, copied for the user's other devices):
   * passed over in sequence as if delivered, never written; a later delivery's ack covers them.
   */
  readonly skip?: ((entry: InboxEntry) => boolean) | undefined;
  /** Called when reading the inbox failed; the pump retries after retryDelayMs. */
  readonly onError: (error: unknown) => void;
  readonly retryDelayMs?: number;
  /** Told the accept-to-socket latency of every delivered message. */
  readonly telemetry?: Telemetry;
}

/**
 * Delivers one user's inbox to one session in sequence order, exactly once per session.
 *
 * Invariant: entries reach the sink in strictly increasing seq with no gaps. Live entries that continue
 * the sequence go straight out; anything else (a gap, a burst while the sink is full, events before
 * start) is left to a catch-up loop that pages from the store, so lost bus events only delay delivery.
 */
export class DeliveryPump {
  private delivered = 0;
  private started = false;
  private stopped = false;
  private running = false;
  /** Set when new entries may exist beyond what the running catch-up already read. */
  private dirty = false;
  /** Set when the bus announced something before start: the first read can then not be skipped. */
  private announcedBeforeStart = false;

  constructor(
    private readonly userId: UserId,
    private readonly sink: SessionSink,
    private readonly store: MessageStore,
    private readonly options: DeliveryPumpOptions,
  ) {}

  /** Highest sequence handed to the sink. */
  get deliveredSeq(): number {
    return this.delivered;
  }

  /**
   * Starts delivering everything after `afterSeq` (entries offered before start are re-read from the
   * store). `lastSeq`, the inbox's last sequence read after the session subscribed, lets a session that
   * already has everything skip the first read — unless the bus announced something since (a reconnect
   * storm is mostly such sessions; each skipped read is one query fewer).
   */
  start(afterSeq: number, lastSeq?: number): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.delivered = afterSeq;
    if (lastSeq !== undefined && afterSeq >= lastSeq && !this.announcedBeforeStart) return;
    this.requestCatchUp();
  }

  /** A live entry from the bus. */
  offer(entry: InboxEntry): void {
    if (!this.started) this.announcedBeforeStart = true;
    if (!this.started || this.stopped || entry.seq <= this.delivered) return;
    if (!this.running && entry.seq === this.delivered + 1 && this.sink.writable()) {
      this.send(entry, 'live');
      return;
    }
    this.requestCatchUp();
  }

  /** Re-reads the inbox (after the bus may have lost events). */
  requestCatchUp(): void {
    if (!this.started) this.announcedBeforeStart = true;
    if (!this.started || this.stopped) return;
    this.dirty = true;
    if (this.running) return;
    this.running = true;
    this.catchUp().then(
      () => (this.running = false),
      (error: unknown) => {
        this.running = false;
        this.options.onError(error);
      },
    );
  }

  stop(): void {
    this.stopped = true;
  }

  private send(entry: InboxEntry, path: DeliveryPath): void {
    this.delivered = entry.seq;
    const onFlushed = this.options.onFlushed;
    // Nothing to write, and nothing to confirm: an ack of a later delivery covers it. (Counting it as
    // flushed now would let a v1 confirmation run ahead of earlier frames still waiting in the pacer.)
    if (this.options.skip?.(entry)) return;
    this.sink.deliver(entry, onFlushed ? () => onFlushed(entry.seq) : undefined);
    (this.options.telemetry ?? noTelemetry).messageDelivered(path, entry.message.createdAt);
  }

  private async catchUp(): Promise<void> {
    const { pageSize } = this.options;
    while (this.dirty && !this.stopped && !this.sink.closed) {
      this.dirty = false;
      let page: InboxEntry[];
      try {
        page = await this.store.readInbox(this.userId, this.delivered, pageSize);
      } catch (error) {
        this.options.onError(error);
        await delay(this.options.retryDelayMs ?? 1000);
        this.dirty = true;
        continue;
      }
      for (const entry of page) {
        if (this.stopped || this.sink.closed) return;
        if (entry.seq <= this.delivered) continue;
        this.send(entry, 'catch_up');
        if (!this.sink.writable()) await this.sink.waitWritable();
      }
      // A full page means more may follow even if nothing new was announced.
      if (page.length === pageSize) this.dirty = true;
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
