import type { FrameChannel } from '../../src/protocol/client-session.js';

/** A FrameChannel that records the frames a session writes (parsed); flush callbacks run at once. */
export class FakeChannel implements FrameChannel {
  readonly kind = 'ws';
  readonly sent: Record<string, unknown>[] = [];
  pacingMs = 0;
  closed = false;
  closeReason: string | undefined;
  idleTimeoutMs = 0;

  /** `remoteIp`: the client's address as the session sees it (per-address limits). */
  constructor(readonly remoteIp = '192.0.2.1') {}

  write(frame: string, onFlushed?: () => void): void {
    if (this.closed) return;
    this.sent.push(JSON.parse(frame) as Record<string, unknown>);
    onFlushed?.();
  }
  writable(): boolean {
    return !this.closed;
  }
  waitWritable(): Promise<void> {
    return Promise.resolve();
  }
  close(reason: string): void {
    this.closed = true;
    this.closeReason = reason;
  }
  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
  }
  deadlineMs = 0;
  setDeadline(ms: number): void {
    this.deadlineMs = ms;
  }
  setPacing(gapMs: number): void {
    this.pacingMs = gapMs;
  }
  bufferedBytes(): number {
    return 0;
  }
  setFrameAlignment(): void {}
  /** Removes and returns everything sent so far. */
  take(): Record<string, unknown>[] {
    return this.sent.splice(0);
  }
  last(): Record<string, unknown> | undefined {
    return this.sent.at(-1);
  }
}
