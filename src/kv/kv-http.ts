import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_LIST, parseLimit, type KvStore } from './kv-store.js';

/** Minimal JSON responder the admin server provides (CORS and caching headers included). */
export type SendJson = (response: ServerResponse, status: number, body: unknown) => void;

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Reads a request body up to `limit` bytes (rejects beyond, without buffering the rest). */
export function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

const asText = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : undefined;

/**
 * `POST /api/kv` with `{"cmd","key","value"}`: the original reply shape — `{status, message, data}` where
 * `data` is the whole stats document — plus `result` for COUNT/KEYS/RRANGE/RPREFIX. Malformed requests
 * get a 4xx JSON error instead of the original's dropped connection.
 */
export async function handleKvCommand(
  store: KvStore,
  request: IncomingMessage,
  response: ServerResponse,
  send: SendJson,
  bodyLimit: number,
): Promise<void> {
  let text: string;
  try {
    text = await readBody(request, bodyLimit);
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      return send(response, 413, {
        status: 'ERROR',
        message: `Request body too large (at most ${bodyLimit} bytes)`,
      });
    throw error;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return send(response, 400, {
      status: 'ERROR',
      message: 'Invalid JSON body; expected {"cmd","key","value"}',
    });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return send(response, 400, {
      status: 'ERROR',
      message: 'Body must be a JSON object {"cmd","key","value"}',
    });
  }
  const { cmd, key, value } = body as Record<string, unknown>;
  if (typeof cmd !== 'string')
    return send(response, 400, { status: 'ERROR', message: 'cmd must be a string' });
  if (key !== undefined && key !== null && asText(key) === undefined)
    return send(response, 400, { status: 'ERROR', message: 'key must be a string' });
  if (value !== undefined && value !== null && asText(value) === undefined)
    return send(response, 400, { status: 'ERROR', message: 'value must be a string' });
  const reply = store.execute(cmd, asText(key), asText(value));
  if (reply.invalid) return send(response, 400, { status: reply.status, message: reply.message });
  send(response, 200, {
    status: reply.status,
    message: reply.message,
    data: store.stats(),
    ...(reply.result === undefined ? {} : { result: reply.result }),
  });
}

/** `GET /api/kv/rbtree/keys?prefix=&after=&limit=`: ordered paging for the web page's key browser. */
export function handleTreeKeys(
  store: KvStore,
  request: IncomingMessage,
  response: ServerResponse,
  send: SendJson,
): void {
  const url = new URL(request.url ?? '/', 'http://admin');
  const limit = parseLimit(url.searchParams.get('limit') ?? undefined);
  if (limit === undefined)
    return send(response, 400, { status: 'ERROR', message: `limit must be a number from 1 to ${MAX_LIST}` });
  const prefix = url.searchParams.get('prefix') ?? '';
  const after = url.searchParams.get('after') ?? undefined;
  const entries = store.tree.scan(prefix, after, limit + 1);
  const page = entries.slice(0, limit);
  send(response, 200, {
    status: 'OK',
    data: { entries: page, next: entries.length > limit ? page.at(-1)!.key : null, count: store.tree.size },
  });
}
