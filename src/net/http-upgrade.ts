import type { IncomingHttpHeaders } from 'node:http';

/** The parts of an HTTP request head that a WebSocket upgrade needs. */
export interface RequestHead {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
}

/** Largest HTTP request head accepted on the chat port. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Methods an HTTP client may open with; anything else on the chat port is taken for a JSON stream. */
const METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;

/**
 * True when the first bytes of a connection start an HTTP request line (`GET /ws HTTP/1.1`). Text that
 * merely starts with a capital letter is not HTTP: it goes to the JSON decoder, which answers it
 * (`BAD_MESSAGE`) instead of waiting for a request head that never comes.
 */
export function looksLikeHttp(first: Buffer): boolean {
  return METHOD.test(first.subarray(0, 8).toString('latin1'));
}

/**
 * Parses an HTTP/1.x request head ending in CRLF CRLF. Returns undefined when the buffer does not yet
 * hold the whole head, 'invalid' when it never will.
 */
export function parseRequestHead(
  buffer: Buffer,
): { head: RequestHead; rest: Buffer } | 'invalid' | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return buffer.length > MAX_HEAD_BYTES ? 'invalid' : undefined;
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0] ?? '');
  if (!match) return 'invalid';
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'invalid';
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    headers[name] = existing === undefined ? value : `${String(existing)}, ${value}`;
  }
  return {
    head: { method: match[1]!, url: match[2]!, httpVersion: match[3]!, headers },
    rest: buffer.subarray(end + 4),
  };
}

/** A minimal HTTP response for requests on the chat port that are not WebSocket upgrades. */
export function plainHttpResponse(status: number, reason: string, body: Record<string, unknown>): string {
  const json = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n` +
    `Connection: close\r\n\r\n${json}`
  );
}
