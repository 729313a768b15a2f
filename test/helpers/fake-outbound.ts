import type { ErrorCode } from '../../src/errors.js';
import type { Outbound } from '../../src/protocol/outbound.js';

/** An Outbound that records what the protocol layer sends; flush callbacks run at once. */
export class FakeOutbound implements Outbound {
  readonly sent: Record<string, unknown>[] = [];
  closed = false;
  closeReason: string | undefined;

  send(message: Record<string, unknown>, onFlushed?: () => void): void {
    if (this.closed) return;
    this.sent.push(message);
    onFlushed?.();
  }
  writable(): boolean {
    return !this.closed;
  }
  waitWritable(): Promise<void> {
    return Promise.resolve();
  }
  close(reason: ErrorCode | 'CLIENT_CLOSED'): void {
    this.closed = true;
    this.closeReason = reason;
  }
  /** Removes and returns everything sent so far. */
  take(): Record<string, unknown>[] {
    return this.sent.splice(0);
  }
  last(): Record<string, unknown> | undefined {
    return this.sent.at(-1);
  }
}
