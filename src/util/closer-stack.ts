/** Releases one resource; may be synchronous. */
export type Closer = () => void | Promise<void>;

/** A closer that threw, rejected, or did not finish in its time. */
export interface CloserFailure {
  readonly name: string;
  /** The thrown value, or an Error saying the time ran out. */
  readonly error: unknown;
  readonly timedOut: boolean;
}

export interface CloserStackOptions {
  /** Time each closer gets unless it names its own; then the stack moves on. @default 5000 */
  readonly timeoutMs?: number;
  /** Told of each failure as it happens (the stack carries on with the next closer). */
  readonly onFailure?: (failure: CloserFailure) => void;
}

interface Entry {
  readonly name: string;
  readonly close: Closer;
  readonly timeoutMs: number;
}

/**
 * Every resource registers its closer right after it opened; `close()` runs them in reverse order, one at
 * a time, each within its time limit. Start-up failure and shutdown unwind the same stack, so they cannot
 * drift apart (fastify's onClose hooks work the same way). A failing or hanging closer is reported and
 * skipped: the resources opened before it are still released. `close()` is idempotent; a closer added
 * once closing has begun runs at once, so nothing opened late is leaked.
 */
export class CloserStack {
  private readonly entries: Entry[] = [];
  private closing: Promise<readonly CloserFailure[]> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: CloserStackOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Registers the closer of a resource that just opened. */
  add(name: string, close: Closer, options: { readonly timeoutMs?: number } = {}): void {
    const entry = { name, close, timeoutMs: options.timeoutMs ?? this.timeoutMs };
    if (this.closing) void this.run(entry);
    else this.entries.push(entry);
  }

  /** Closers registered and not yet run. */
  get size(): number {
    return this.entries.length;
  }

  /** True once `close()` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Runs every closer, last registered first; resolves (never rejects) with what failed. With
   * `deadlineMs`, stops waiting once it passed: the closer running then is reported as timed out, and
   * every one not yet run is started at once, without waiting for it. Later calls return the first
   * call's result.
   */
  close(options: { readonly deadlineMs?: number } = {}): Promise<readonly CloserFailure[]> {
    this.closing ??= this.unwind(options.deadlineMs);
    return this.closing;
  }

  private async unwind(deadlineMs: number | undefined): Promise<readonly CloserFailure[]> {
    const failures: CloserFailure[] = [];
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      deadlineMs === undefined
        ? undefined
        : new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
    for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
      const running = this.run(entry);
      const outcome = await (deadline ? Promise.race([running, deadline]) : running);
      if (outcome === 'deadline') {
        failures.push({
          name: entry.name,
          error: new Error(`${entry.name}: still closing when the ${deadlineMs} ms deadline passed`),
          timedOut: true,
        });
        for (let rest = this.entries.pop(); rest; rest = this.entries.pop()) void this.run(rest);
        break;
      }
      if (outcome) failures.push(outcome);
    }
    clearTimeout(timer);
    return failures;
  }

  private async run(entry: Entry): Promise<CloserFailure | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CloserFailure>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            name: entry.name,
            error: new Error(`${entry.name}: not closed within ${entry.timeoutMs} ms`),
            timedOut: true,
          }),
        entry.timeoutMs,
      );
    });
    const closed = (async (): Promise<CloserFailure | undefined> => {
      try {
        await entry.close();
        return undefined;
      } catch (error) {
        return { name: entry.name, error, timedOut: false };
      }
    })();
    const failure = await Promise.race([closed, timeout]);
    clearTimeout(timer);
    if (failure) this.options.onFailure?.(failure);
    return failure;
  }
}
