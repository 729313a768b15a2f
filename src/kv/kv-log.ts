import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
// Through the module object, not a named import: on a Node without crc32 (< 20.15) a named import fails
// before src/require-node.ts can say why (see there).
import * as zlib from 'node:zlib';
import type { KvEngine } from './kv-engine.js';

/** `always`: fsync every write; `everysec`: fsync once a second; `no`: leave it to the OS. */
export type FsyncPolicy = 'always' | 'everysec' | 'no';

export type LogRecord = readonly ['S' | 'M', string, string] | readonly ['D', string];

const HEADER = 8;

/**
 * An engine's append-only log. Each record is `[u32 length][u32 crc32][JSON payload]`, little-endian; on
 * open the log is replayed into the engine, a torn or corrupt tail (a crash mid-write) is detected by
 * length or checksum, reported and cut off, and a log much larger than the live data is rewritten.
 */
export class KvLog {
  private fd: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private dirty = false;

  private constructor(
    private readonly path: string,
    private readonly policy: FsyncPolicy,
  ) {
    this.fd = openSync(path, 'a');
    if (policy === 'everysec') {
      this.timer = setInterval(() => this.syncSoon(), 1000);
      this.timer.unref();
    }
  }

  /** Opens (creating) the log, replays it into `engine`, returns the log and what was found. */
  static open(
    path: string,
    policy: FsyncPolicy,
    engine: KvEngine,
  ): { log: KvLog; replayed: number; tornBytes: number } {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      bytes = Buffer.alloc(0);
    }
    let offset = 0;
    let replayed = 0;
    while (offset + HEADER <= bytes.length) {
      const length = bytes.readUInt32LE(offset);
      const checksum = bytes.readUInt32LE(offset + 4);
      const end = offset + HEADER + length;
      if (end > bytes.length) break;
      const payload = bytes.subarray(offset + HEADER, end);
      if (zlib.crc32(payload) !== checksum) break;
      const record = JSON.parse(payload.toString('utf8')) as LogRecord;
      if (record[0] === 'S') engine.set(record[1], record[2]);
      else if (record[0] === 'M') engine.modify(record[1], record[2]);
      else engine.delete(record[1]);
      replayed++;
      offset = end;
    }
    const tornBytes = bytes.length - offset;
    if (tornBytes > 0) {
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, offset);
      closeSync(fd);
    }
    // Rewrite a log that is mostly history (more than twice the records still alive, and not tiny).
    if (replayed > 1000 && replayed > 2 * engine.size) rewrite(path, engine);
    return { log: new KvLog(path, policy), replayed, tornBytes };
  }

  append(op: 'S' | 'M', key: string, value: string): void;
  append(op: 'D', key: string): void;
  append(op: 'S' | 'M' | 'D', key: string, value?: string): void {
    writeSync(this.fd, encode(op === 'D' ? ['D', key] : [op, key, value!]));
    if (this.policy === 'always') fdatasyncSync(this.fd);
    else this.dirty = true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.dirty && this.policy !== 'no') fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  private syncSoon(): void {
    if (!this.dirty || this.fd < 0) return;
    this.dirty = false;
    fdatasync(this.fd, () => {});
  }

  /** Where the log lives (for messages). */
  get file(): string {
    return this.path;
  }
}

function encode(record: LogRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(zlib.crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

/** Writes the live entries to a new log and atomically replaces the old one. */
function rewrite(path: string, engine: KvEngine): void {
  const temp = `${path}.rewrite`;
  const fd = openSync(temp, 'w');
  const entries = engine.entries(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < entries.length; i += 1000) {
    writeSync(fd, Buffer.concat(entries.slice(i, i + 1000).map((e) => encode(['S', e.key, e.value]))));
  }
  fdatasyncSync(fd);
  closeSync(fd);
  renameSync(temp, path);
}
