// The module binding, not the global: Node 20's global `Buffer` is a getter run on every use (hot path).
import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** A synchronous JSON route of the fast lane: request body in, status and serialized JSON out. */
export type FastRoute = (body: string) => FastReply;

export interface FastReply {
  readonly status: number;
  /** The reply body, already JSON. */
  readonly json: string;
}

export interface FastLaneOptions {
  /** The route for `METHOD path` (path without query), or undefined to leave the request to Node's http. */
  readonly resolve: (method: string, path: string) => FastRoute | undefined;
  /** The refusal to send when the request needs a token it did not bring; undefined lets it through. */
  readonly refusal: (path: string, authorization: string | undefined) => FastReply | undefined;
  /** Gives the connection, with the bytes not yet answered, to Node's http server for good. */
  readonly handOff: (socket: Socket, unanswered: Buffer) => void;
  /** Header lines (each ending in CRLF) added to every reply: CORS, caching. */
  readonly commonHeaders: string;
  /** Largest body the lane reads itself; a larger one goes to Node's http (which answers 413). */
  readonly maxBodyBytes: number;
  /**
   * Idle keep-alive connections are closed after at least this long (the advertised `Keep-Alive` timeout),
   * at most a third longer: one sweep timer checks every third of it.
   */
  readonly idleTimeoutMs: number;
  /** Reply bytes a client may leave unread before the lane stops reading its requests. */
  readonly maxPendingReplyBytes?: number;
}

/** Largest request head the lane parses; a longer one goes to Node's http (which answers 431). */
const MAX_HEAD_BYTES = 8 * 1024;
const CRLF_CRLF = '\r\n\r\n';
const EMPTY = Buffer.alloc(0);

/** What the lane needs of a request head; a pure function of the head's text. */
interface ParsedHead {
  readonly route: FastRoute;
  readonly path: string;
  /** Bytes of the head without its final CRLF CRLF. */
  readonly headLength: number;
  readonly bodyLength: number;
  readonly keepAlive: boolean;
  readonly authorization: string | undefined;
}

/** What the lane makes of the bytes at the start of its buffer. */
type ParseOutcome = ParsedHead | 'incomplete' | 'hand-off';

/**
 * Recently parsed heads by their text. A client sends the same few heads over and over (only
 * Content-Length varies), so most requests are parsed by one map lookup instead of a walk over every
 * header line (~6k of ~28k CPU instructions per keep-alive request, docs/BENCHMARKS.md). Bounded:
 * cleared when full.
 */
class HeadCache {
  private readonly heads = new Map<string, ParsedHead>();

  constructor(private readonly maxEntries: number) {}

  get(head: string): ParsedHead | undefined {
    return this.heads.get(head);
  }

  remember(head: string, parsed: ParsedHead): void {
    if (this.heads.size >= this.maxEntries) this.heads.clear();
    this.heads.set(head, parsed);
  }
}

const HEAD_CACHE_ENTRIES = 256;

/**
 * Parses one request head at `start`. The lane takes only plain, unambiguous requests to its own
 * routes — a request line `METHOD path HTTP/1.x`, `name: value` headers without control characters, a
 * Host (HTTP/1.1), at most one Content-Length (digits), Authorization, Connection (`close` or
 * `keep-alive`) and Host — and leaves everything else (chunked bodies, Expect, Upgrade, obs-folds, bare
 * LFs, query strings, repeated or unusual headers it acts on, other routes, oversized heads or bodies) to
 * Node's http server, which has the full parser and error replies. So the lane never has to judge
 * malformed HTTP, and whatever it answers, Node would answer the same (a differential test holds it to
 * that).
 */
function parseHead(buffer: Buffer, start: number, options: FastLaneOptions, cache: HeadCache): ParseOutcome {
  const end = buffer.indexOf(CRLF_CRLF, start, 'latin1');
  if (end === -1) {
    const pending = buffer.length - start;
    if (pending > MAX_HEAD_BYTES || buffer.indexOf('\n\n', start, 'latin1') !== -1) return 'hand-off';
    return 'incomplete';
  }
  if (end - start > MAX_HEAD_BYTES) return 'hand-off';
  const head = buffer.toString('latin1', start, end);
  const cached = cache.get(head);
  if (cached) return cached;
  const parsed = parseHeadText(head, options);
  if (parsed !== 'hand-off') cache.remember(head, parsed);
  return parsed;
}

/** Parses a complete request head (without its final CRLF CRLF). */
function parseHeadText(head: string, options: FastLaneOptions): ParsedHead | 'hand-off' {
  // Node rejects control characters in a head (400); leave those requests to it.
  if (CONTROL.test(head)) return 'hand-off';
  let lineEnd = head.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = head.length;
  if (!endsCleanly(head, 0, lineEnd)) return 'hand-off';
  // Request line: exactly `METHOD SP path SP HTTP/1.x`.
  const space1 = head.indexOf(' ');
  const space2 = space1 === -1 ? -1 : head.indexOf(' ', space1 + 1);
  if (space1 <= 0 || space2 === -1 || space2 >= lineEnd) return 'hand-off';
  const space3 = head.indexOf(' ', space2 + 1);
  if (space3 !== -1 && space3 < lineEnd) return 'hand-off';
  const version = head.slice(space2 + 1, lineEnd);
  const http11 = version === 'HTTP/1.1';
  if (!http11 && version !== 'HTTP/1.0') return 'hand-off';
  const path = head.slice(space1 + 1, space2);
  if (path.includes('?')) return 'hand-off';
  const route = options.resolve(head.slice(0, space1), path);
  if (!route) return 'hand-off';
  let contentLength: number | undefined;
  let connection: string | undefined;
  let authorization: string | undefined;
  let host: string | undefined;
  for (let lineStart = lineEnd + 2; lineStart < head.length; lineStart = lineEnd + 2) {
    lineEnd = head.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = head.length;
    if (!endsCleanly(head, lineStart, lineEnd)) return 'hand-off';
    const colon = head.indexOf(':', lineStart);
    if (colon === -1 || colon >= lineEnd) return 'hand-off';
    const name = head.slice(lineStart, colon);
    if (!TOKEN.test(name)) return 'hand-off';
    // Only the headers the lane acts on are looked at closely (compared by length first: cheap).
    const interesting = INTERESTING_LENGTHS[name.length];
    if (interesting === undefined) continue;
    const lower = name.toLowerCase();
    // A browser's request (it carries an Origin) goes to Node's http, where the CORS policy is applied.
    if (lower === 'origin') return 'hand-off';
    if (lower !== interesting) continue;
    // Optional whitespace is SP and HTAB only (String.trim would also take a no-break space).
    const value = head.slice(colon + 1, lineEnd).replace(OWS_EDGES, '');
    switch (lower) {
      case 'content-length':
        if (contentLength !== undefined || !DIGITS.test(value)) return 'hand-off';
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return 'hand-off';
      case 'connection':
        // Node keeps the first of repeated headers, joins some and parses token lists; take only the plain case.
        if (connection !== undefined || !CONNECTION.test(value)) return 'hand-off';
        connection = value.toLowerCase();
        break;
      case 'authorization':
        if (authorization !== undefined) return 'hand-off';
        authorization = value;
        break;
      case 'host':
        if (host !== undefined) return 'hand-off';
        host = value;
        break;
    }
  }
  // HTTP/1.1 without Host: Node answers 400.
  if (http11 && host === undefined) return 'hand-off';
  const bodyLength = contentLength ?? 0;
  if (bodyLength > options.maxBodyBytes) return 'hand-off';
  const keepAlive = http11 ? connection !== 'close' : connection === 'keep-alive';
  return { route, path, headLength: head.length, bodyLength, keepAlive, authorization };
}

/** A header name (RFC 9110 token): no spaces before the colon, no obs-fold continuation lines. */
const TOKEN = /^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^\d{1,9}$/;
const CONNECTION = /^(?:close|keep-alive)$/i;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
/** Control characters other than HTAB, CR and LF (CR and LF are checked line by line). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/** The headers the lane acts on, by name length. */
const INTERESTING_LENGTHS: Record<number, string> = {
  14: 'content-length',
  17: 'transfer-encoding',
  6: 'expect',
  7: 'upgrade',
  10: 'connection',
  13: 'authorization',
  4: 'host',
};

/** True when the line holds no stray CR or LF (a bare LF is left to Node's parser to reject). */
function endsCleanly(head: string, from: number, lineEnd: number): boolean {
  const cr = head.indexOf('\r', from);
  const lf = head.indexOf('\n', from);
  return (cr === -1 || cr >= lineEnd) && (lf === -1 || lf > lineEnd);
}

/** `HTTP/1.1 <status> <reason>` and the content type, per status. */
const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\nContent-Type: application/json; charset=utf-8\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

/**
 * The header lines after Content-Length (common headers, Date, Connection), for keep-alive and for
 * close, built once per second: the Date header is all that changes.
 */
class ReplyTails {
  private second = -1;
  private keepAlive = '';
  private close = '';

  constructor(private readonly options: FastLaneOptions) {}

  get(keepAlive: boolean): string {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      const common = `${this.options.commonHeaders}Date: ${new Date(second * 1000).toUTCString()}\r\n`;
      const timeout = Math.round(this.options.idleTimeoutMs / 1000);
      this.keepAlive = `${common}Connection: keep-alive\r\nKeep-Alive: timeout=${timeout}\r\n\r\n`;
      this.close = `${common}Connection: close\r\n\r\n`;
    }
    return keepAlive ? this.keepAlive : this.close;
  }
}

/** One connection on the lane. */
interface LaneConnection {
  /** Sweeps since the last read; the connection is closed when it passes IDLE_SWEEPS. */
  idleSweeps: number;
  /** Closes the connection once its replies are flushed. */
  readonly close: () => void;
}

/** The idle limit is checked by one sweep timer, this many times per limit (not a timer per socket). */
const IDLE_SWEEPS = 3;

/**
 * The admin plane's fast lane: the hot JSON routes (KV commands, stats, health) are parsed and answered
 * here, every reply of one read in one write — Node's http stack costs more per request than the KV
 * engines themselves. The first request the lane does not take hands the connection to Node's http
 * server, in order, with everything not yet answered.
 */
export class FastLane {
  private readonly connections = new Map<Socket, LaneConnection>();
  private readonly heads = new HeadCache(HEAD_CACHE_ENTRIES);
  private readonly tails: ReplyTails;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: FastLaneOptions) {
    this.tails = new ReplyTails(options);
  }

  /** Serves a new connection. */
  serve(socket: Socket): void {
    const connection = this.attach(socket);
    this.connections.set(socket, connection);
    socket.once('close', () => this.connections.delete(socket));
    this.sweeper ??= setInterval(() => this.sweep(), this.options.idleTimeoutMs / IDLE_SWEEPS).unref();
  }

  /** Closes every connection still on the lane once its replies are flushed; stops the sweeper. */
  closeAll(): void {
    clearInterval(this.sweeper);
    for (const connection of this.connections.values()) connection.close();
  }

  /** Destroys what `closeAll` left open (clients that never read). */
  destroyAll(): void {
    for (const socket of this.connections.keys()) socket.destroy();
  }

  private sweep(): void {
    for (const [socket, connection] of this.connections)
      if (++connection.idleSweeps > IDLE_SWEEPS) socket.destroy();
  }

  private attach(socket: Socket): LaneConnection {
    const { options } = this;
    const maxPending = options.maxPendingReplyBytes ?? 1024 * 1024;
    let buffer: Buffer = EMPTY;
    let closing = false;

    const onError = () => socket.destroy();
    const onEnd = () => {
      closing = true;
      // Usually ended already (a `Connection: close` reply ends it, then the peer's FIN arrives): a second
      // end() builds an ERR_STREAM_ALREADY_FINISHED error with its stack — ~11 % of close-mode CPU.
      if (!socket.writableEnded) socket.end();
    };
    const onData = (chunk: Buffer) => {
      connection.idleSweeps = 0;
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let offset = 0;
      let out = '';
      while (offset < buffer.length && !closing) {
        const request = parseHead(buffer, offset, options, this.heads);
        if (request === 'incomplete') break;
        if (request === 'hand-off') {
          if (out) socket.write(out);
          // Node's http server brings its own listeners and timeouts.
          socket.off('data', onData);
          socket.off('end', onEnd);
          socket.off('error', onError);
          this.connections.delete(socket);
          options.handOff(socket, buffer.subarray(offset));
          return;
        }
        const bodyStart = offset + request.headLength + CRLF_CRLF.length;
        const bodyEnd = bodyStart + request.bodyLength;
        if (bodyEnd > buffer.length) break;
        const reply =
          options.refusal(request.path, request.authorization) ??
          request.route(buffer.toString('utf8', bodyStart, bodyEnd));
        out +=
          statusLine(reply.status) +
          `Content-Length: ${Buffer.byteLength(reply.json)}\r\n` +
          this.tails.get(request.keepAlive) +
          reply.json;
        offset = bodyEnd;
        if (!request.keepAlive) closing = true;
      }
      buffer = offset === buffer.length ? EMPTY : buffer.subarray(offset);
      if (closing) {
        socket.off('data', onData);
        socket.end(out);
        return;
      }
      // Pull-based: a client that pipelines without reading its replies stops being read.
      if (out && !socket.write(out) && socket.writableLength > maxPending) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };

    const connection: LaneConnection = {
      idleSweeps: 0,
      close: () => {
        if (closing) return;
        closing = true;
        socket.off('data', onData);
        socket.end();
      },
    };
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    return connection;
  }
}
