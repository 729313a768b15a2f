const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

/**
 * Splits a TCP byte stream into JSON frames. Accepts every framing old and new clients use:
 * - `\n`-terminated lines (Parley clients) and `\0`-terminated requests (the ancestor C++ client);
 * - JSON objects back to back with no delimiter at all, found by tracking brace depth outside strings;
 * - any of these split across reads at any byte, or several in one read.
 * A newline or NUL always ends a frame (neither may appear raw inside JSON text), so one broken
 * frame never swallows the next. Non-JSON bytes become a frame of their own, which the caller rejects.
 * Memory is bounded: a frame growing past `maxBytes` throws FrameTooLargeError.
 */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private started = false;
  private garbage = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxBytes: number) {}

  /** Feeds one chunk; calls onFrame for each complete frame, in order. */
  push(chunk: Buffer, onFrame: (frame: string) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF || byte === NUL) {
        if (this.started) this.emit(chunk, start, i, onFrame);
        start = i + 1;
        continue;
      }
      if (!this.started) {
        if (byte === SPACE || byte === TAB || byte === CR) {
          start = i + 1;
          continue;
        }
        this.started = true;
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth = 1;
        else this.garbage = true;
        continue;
      }
      if (this.garbage) continue;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
      else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --this.depth === 0) {
        this.emit(chunk, start, i + 1, onFrame);
        start = i + 1;
      }
    }
    if (this.started && start < chunk.length) {
      this.size += chunk.length - start;
      if (this.size > this.maxBytes) throw new FrameTooLargeError(`frame exceeds ${this.maxBytes} bytes`);
      this.parts.push(chunk.subarray(start));
    }
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.size;
  }

  private emit(chunk: Buffer, start: number, end: number, onFrame: (frame: string) => void): void {
    const total = this.size + (end - start);
    if (total > this.maxBytes) throw new FrameTooLargeError(`frame exceeds ${this.maxBytes} bytes`);
    const tail = chunk.subarray(start, end);
    const text =
      this.parts.length === 0
        ? tail.toString('utf8')
        : Buffer.concat([...this.parts, tail], total).toString('utf8');
    this.parts = [];
    this.size = 0;
    this.started = false;
    this.garbage = false;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    onFrame(text.trimEnd());
  }
}
