import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_LIST, parseLimit, type KvStore } from './kv-store.js';

/** Minimal JSON responder the admin server provides (CORS and caching headers included). */
export type SendJson = (response: ServerResponse, status: number, body: unknown) => void;

const asText = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : undefined;

/** A reply of the fast lane's shape: HTTP status and the JSON text. */
export interface KvHttpReply {
  readonly status: number;
  readonly json: string;
}

const error = (status: number, message: string): KvHttpReply => ({
  status,
  json: JSON.stringify({ status: 'ERROR', message }),
});

/**
 * The body the original page and its clients send, `{"cmd":"…","key":"…","value":"…"}` (value optional),
 * without whitespace or escapes, read by one regular expression instead of `JSON.parse`: V8's JSON parser
 * puts every string value of up to 10 characters into its string table, so with random keys each request
 * paid a lookup in a table of ~100k strings (~30 % of the command's cost). Anything else — other field
 * order, whitespace, escapes, numbers — goes to `JSON.parse`, which reads it the same way.
 */
const CANONICAL_BODY =
  // eslint-disable-next-line no-control-regex -- raw control characters are not allowed in JSON strings
  /^\{"cmd":"([^"\\\u0000-\u001f]*)","key":"([^"\\\u0000-\u001f]*)"(?:,"value":"([^"\\\u0000-\u001f]*)")?\}$/;

/**
 * `POST /api/kv` with `{"cmd","key","value"}`: the original reply shape — `{status, message, data}` where
 * `data` is the whole stats document — plus `result` for COUNT/KEYS/RRANGE/RPREFIX. Malformed requests
 * get a 4xx JSON error instead of the original's dropped connection. Synchronous, so the admin server's
 * fast lane can answer it without Node's http stack.
 */
export function kvCommandReply(store: KvStore, text: string): KvHttpReply {
  const canonical = CANONICAL_BODY.exec(text);
  if (canonical) return commandReply(store, canonical[1]!, canonical[2], canonical[3]);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return error(400, 'Invalid JSON body; expected {"cmd","key","value"}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return error(400, 'Body must be a JSON object {"cmd","key","value"}');
  const { cmd, key, value } = body as Record<string, unknown>;
  if (typeof cmd !== 'string') return error(400, 'cmd must be a string');
  if (key !== undefined && key !== null && asText(key) === undefined)
    return error(400, 'key must be a string');
  if (value !== undefined && value !== null && asText(value) === undefined)
    return error(400, 'value must be a string');
  return commandReply(store, cmd, asText(key), asText(value));
}

function commandReply(
  store: KvStore,
  cmd: string,
  key: string | undefined,
  value: string | undefined,
): KvHttpReply {
  const reply = store.execute(cmd, key, value);
  if (reply.invalid)
    return { status: 400, json: JSON.stringify({ status: reply.status, message: reply.message }) };
  // Written by hand around the cached stats document: the same JSON as stringifying the whole reply.
  const result = reply.result === undefined ? '' : `,"result":${JSON.stringify(reply.result)}`;
  return {
    status: 200,
    json: `{"status":"${reply.status}","message":${JSON.stringify(reply.message)},"data":${store.statsJson()}${result}}`,
  };
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
