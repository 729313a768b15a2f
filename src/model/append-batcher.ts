import { AppError } from '../errors.js';
import type { AppendResult, MessageDraft, UserId } from '../service/ports.js';
import { noTelemetry, stopwatch, type Telemetry } from '../service/telemetry.js';

/** One append as the batcher hands it to its writer. */
export interface AppendRequest {
  readonly draft: MessageDraft;
  readonly recipients: readonly UserId[];
}

/** Where batches go: the MySQL store's one-round-trip transaction, or a fake in unit tests. */
export interface AppendWriter {
  /** Writes the batch atomically (all or nothing); one result per request, in batch order. */
  write(batch: readonly AppendRequest[]): Promise<AppendResult[]>;
  /**
   * The outcome of one append whose write failed on its own: a result (a resend answers with the stored
   * message) or a rejection with the error to report.
   */
  settleFailed(request: AppendRequest, error: unknown): Promise<AppendResult>;
}

/** Bounds of the append batcher; every one is a resource limit (style guide: no unbounded defaults). */
export interface AppendBatchLimits {
  /** Most appends written in one transaction. @default 500 */
  readonly maxBatch: number;
  /** Most inbox rows written in one transaction (a big group counts per member). @default 20000 */
  readonly maxRows: number;
  /** Batches committing at once (each holds one pooled connection); fewer means larger batches. @default 2 */
  readonly maxInFlight: number;
  /**
   * Appends that must be queued before a batch starts while another is still committing. Fewer wait for the
   * commit in flight and then go together: at a moderate rate that makes one batch of several appends
   * instead of two of one or two (a commit costs MariaDB ~250 µs of CPU whatever its size, a message
   * ~10 µs), at the price of at most one commit's wait; at saturation the queue is longer than this and
   * batches overlap. An idle node never waits: with nothing in flight a batch starts at once. @default 32
   */
  readonly minOverlappingBatch: number;
  /**
   * Most body characters in one batch: the batch travels as one statement (or, on the fallback, one JSON
   * parameter), which must stay below the server's max_allowed_packet (16 MiB by default on MariaDB, 64 MiB
   * on MySQL 8; a character takes at most 4 bytes escaped in SQL text, 6 in JSON). @default 1000000
   */
  readonly maxBodyChars: number;
  /**
   * Appends queued for the next batches at most (MYSQL_APPEND_QUEUE_MAX). When full, callers wait for
   * room, at most as many again; beyond that an append fails at once with UNAVAILABLE. @default 10000
   */
  readonly maxQueued: number;
  /** How long a caller waits for room in a full queue before UNAVAILABLE (MYSQL_ACQUIRE_TIMEOUT_MS). @default 3000 */
  readonly queueWaitMs: number;
}

/** The production limits; tests override single fields. */
export const DEFAULT_APPEND_LIMITS: AppendBatchLimits = {
  maxBatch: 500,
  maxRows: 20_000,
  maxInFlight: 2,
  minOverlappingBatch: 32,
  maxBodyChars: 1_000_000,
  maxQueued: 10_000,
  queueWaitMs: 3000,
};

/** Queue depths, for tests and metrics. */
export interface AppendBatcherStats {
  readonly queued: number;
  readonly waiting: number;
  readonly inFlight: number;
}

interface PendingAppend extends AppendRequest {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface Waiter {
  readonly pending: PendingAppend;
  readonly timer: NodeJS.Timeout;
}

/**
 * Group commit: appends that arrive while `maxInFlight` batches are committing queue up and go into the
 * next batch together, in arrival order. A failed batch is retried one append at a time, in order, so one
 * bad append (a resend, an unknown sender) never fails the others — unless the database is unreachable
 * (UNAVAILABLE), which fails the whole batch at once. The queue is bounded: when it is full
 * the caller's promise waits for room (FIFO, so nobody overtakes a waiter) for at most `queueWaitMs`, then
 * fails with UNAVAILABLE. Waiting rather than failing at once turns a burst into backpressure: the
 * connection processes its frames serially, so its next frames queue behind the send and its socket is
 * paused, as for any slow store call.
 */
export class AppendBatcher {
  private readonly limits: AppendBatchLimits;
  private readonly queue: PendingAppend[] = [];
  private readonly waiting: Waiter[] = [];
  private inFlight = 0;
  private telemetry: Telemetry = noTelemetry;

  constructor(
    private readonly writer: AppendWriter,
    limits: Partial<AppendBatchLimits> = {},
  ) {
    this.limits = { ...DEFAULT_APPEND_LIMITS, ...limits };
  }

  /** Resolves once the append is committed (in some batch), or rejects with its own error. */
  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      const pending: PendingAppend = { draft, recipients, resolve, reject };
      if (this.waiting.length === 0 && this.queue.length < this.limits.maxQueued) {
        this.queue.push(pending);
        this.pump();
      } else if (this.waiting.length < this.limits.maxQueued) {
        this.wait(pending);
      } else {
        reject(new AppError('UNAVAILABLE', 'too many messages waiting for the database'));
      }
    });
  }

  /** Current depths: queued for a batch, waiting for room, batches committing. */
  stats(): AppendBatcherStats {
    return { queued: this.queue.length, waiting: this.waiting.length, inFlight: this.inFlight };
  }

  private wait(pending: PendingAppend): void {
    const waiter: Waiter = {
      pending,
      timer: setTimeout(() => this.expire(waiter), this.limits.queueWaitMs).unref(),
    };
    this.waiting.push(waiter);
  }

  private expire(waiter: Waiter): void {
    // Nearly always the head: every waiter gets the same time, in arrival order.
    const index = this.waiting.indexOf(waiter);
    if (index === -1) return;
    this.waiting.splice(index, 1);
    waiter.pending.reject(new AppError('UNAVAILABLE', 'the database is behind; no room for this message'));
  }

  /** Moves waiters into the room a departing batch left, oldest first. */
  private admit(): void {
    while (this.waiting.length > 0 && this.queue.length < this.limits.maxQueued) {
      const waiter = this.waiting.shift()!;
      clearTimeout(waiter.timer);
      this.queue.push(waiter.pending);
    }
  }

  private pump(): void {
    for (;;) {
      this.admit();
      if (this.inFlight >= this.limits.maxInFlight || this.queue.length === 0) return;
      if (this.inFlight > 0 && this.queue.length < this.limits.minOverlappingBatch) return;
      const batch = this.nextBatch();
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The longest prefix of the queue within the count, row and body limits (always at least one append). */
  private nextBatch(): PendingAppend[] {
    const { maxBatch, maxRows, maxBodyChars } = this.limits;
    const batch: PendingAppend[] = [];
    let rows = 0;
    let chars = 0;
    while (this.queue.length > 0 && batch.length < maxBatch) {
      const next = this.queue[0]!;
      const full = rows + next.recipients.length > maxRows || chars + next.draft.body.length > maxBodyChars;
      if (batch.length > 0 && full) break;
      batch.push(this.queue.shift()!);
      rows += next.recipients.length;
      chars += next.draft.body.length;
    }
    return batch;
  }

  /** Reports every batch written (its size, and its time with retries) to `telemetry`. */
  observe(telemetry: Telemetry): void {
    this.telemetry = telemetry;
  }

  private async run(batch: readonly PendingAppend[]): Promise<void> {
    try {
      const elapsed = stopwatch();
      const results = await this.writer.write(batch);
      this.telemetry.appendBatchWritten(batch.length, elapsed());
      batch.forEach((item, i) => item.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        // Not awaited: settling (e.g. reading a resend's stored message) need not hold a batch slot.
        void this.settle(batch[0]!, error);
        return;
      }
      if (error instanceof AppError && error.code === 'UNAVAILABLE') {
        // The database is out of reach: every append of the batch would fail the same way, each after its
        // own acquire timeout (500 appends × 3 s). Fail them together; callers retry or hold.
        for (const item of batch) item.reject(error);
        return;
      }
      // Isolate the failure: each append on its own, in order.
      for (const item of batch) await this.run([item]);
    }
  }

  private async settle(item: PendingAppend, error: unknown): Promise<void> {
    try {
      item.resolve(await this.writer.settleFailed(item, error));
    } catch (failure) {
      item.reject(failure);
    }
  }
}
