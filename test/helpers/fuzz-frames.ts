import { ERROR_CATALOG, type ErrorCode } from '../../src/errors.js';
import { loginSchema, pingSchema, registerSchema, resumeSchema } from '../../src/protocol/schemas.js';
import type { Frame } from './line-client.js';

/** Names a fuzz frame could register; the test registers them first, so a fuzz connection never logs in. */
export const FUZZ_NAMES = ['x'] as const;

/** One malformed (or merely odd) input and what a connection that is not logged in must answer to it. */
export interface FuzzItem {
  readonly bytes: Buffer;
  /** For the failure message. */
  readonly label: string;
  /** How many replies (one per frame the bytes hold). */
  readonly replies: number;
  /** Each reply, summarised by `summarise`, must be one of these. */
  readonly allowed: readonly string[];
}

const REQUEST_IDS = [1, 3, 4, 6, 7, 8, 9, 10, 13, 15, 16, 18, 20, 23, 25, 27];
/** docs/PROTOCOL.md: LOGINOUT, the chat requests, SYNC, INBOX_ACK, HISTORY and the queries need a login. */
const NEEDS_LOGIN = [3, 6, 7, 8, 9, 10, 13, 15, 16, 23, 25, 27];
const FIELDS = [
  'id',
  'toid',
  'groupid',
  'friendid',
  'name',
  'password',
  'msg',
  'v',
  'token',
  'seq',
  'after',
  'with',
];
const VALUES: readonly unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 53,
  'x',
  '',
  [],
  {},
  [1, 'a'],
  { a: { b: [] } },
  'é'.repeat(300),
];

/** Plausible values: real user ids (the registered names and the control pair), names the rules refuse. */
const STRINGS: readonly string[] = ['x', '', ' x ', 'y'.repeat(51), 'é'.repeat(300)];
const INTEGERS: readonly number[] = [-1, 0, 1, 2, 3, 2 ** 31];
const STRING_FIELDS = new Set(['name', 'password', 'token', 'msg']);
/** The fields of the requests a connection may send before logging in. */
const FIELDS_OF: Readonly<Record<number, readonly string[]>> = {
  1: ['id', 'name', 'password'],
  4: ['name', 'password'],
  18: [],
  20: ['token', 'seq'],
};

const error = (code: ErrorCode, re?: number): string => `ERROR ${code}${re === undefined ? '' : ` re=${re}`}`;

/**
 * A seeded generator of malformed input: random bytes (several frames split by `\n`/NUL), truncated JSON,
 * JSON that is not an object, and objects with random msgids and fields under every framing.
 */
export function fuzzItems(seed: number): () => FuzzItem {
  let state = seed >>> 0;
  // mulberry32: 32-bit integer steps, so no float precision is lost on the way.
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const below = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[below(items.length)]!;

  const object = (): Frame => {
    const msgid = pick<unknown>([...REQUEST_IDS, 2, 5, 99, -1, '6']);
    const frame: Frame = { msgid };
    const own = typeof msgid === 'number' ? FIELDS_OF[msgid] : undefined;
    if (own && random() < 0.7) {
      // Mostly the request's own fields with plausible values, so the handlers' checks run too.
      for (const key of own) {
        if (random() < 0.8)
          frame[key] =
            random() < 0.2 ? pick(VALUES) : pick<unknown>(STRING_FIELDS.has(key) ? STRINGS : INTEGERS);
      }
      if (random() < 0.1) frame.v = pick(VALUES);
    } else {
      for (const key of FIELDS) if (random() < 0.4) frame[key] = pick(VALUES);
    }
    return frame;
  };

  const garbage = (): FuzzItem => {
    // Each segment starts with a visible byte other than `{`/`[`, so it is one frame up to the next `\n`/NUL.
    const segments = 1 + below(3);
    const parts: number[] = [];
    for (let s = 0; s < segments; s++) {
      if (s > 0) parts.push(pick([0x0a, 0x00]));
      let first = 0x21 + below(0x7e - 0x21 + 1);
      if (first === 0x7b || first === 0x5b) first = 0x40;
      parts.push(first);
      for (let n = below(150); n > 0; n--) {
        const byte = 1 + below(255);
        parts.push(byte === 0x0a ? 0x0b : byte);
      }
    }
    return {
      bytes: Buffer.from([...parts, 0x0a]),
      label: 'random bytes',
      replies: segments,
      allowed: [error('BAD_MESSAGE')],
    };
  };

  const truncated = (): FuzzItem => {
    const text = JSON.stringify(object());
    const cut = text.slice(0, 1 + below(text.length - 1));
    return { bytes: Buffer.from(`${cut}\n`), label: cut, replies: 1, allowed: [error('BAD_MESSAGE')] };
  };

  const notAnObject = (): FuzzItem => {
    const text = JSON.stringify(
      pick(VALUES.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))),
    );
    return {
      bytes: Buffer.from(text + pick(['\n', '\0', ''])),
      label: text,
      replies: 1,
      allowed: [error('BAD_MESSAGE')],
    };
  };

  const request = (): FuzzItem => {
    const frame = object();
    const text = JSON.stringify(frame);
    return {
      bytes: Buffer.from(text + pick(['\n', '\0', ''])),
      label: text,
      replies: 1,
      allowed: expectedReplies(frame),
    };
  };

  return () => {
    const roll = random();
    if (roll < 0.25) return garbage();
    if (roll < 0.35) return truncated();
    if (roll < 0.45) return notAnObject();
    return request();
  };
}

/** What docs/PROTOCOL.md says a connection that is not logged in gets for one JSON object. */
function expectedReplies(frame: Frame): string[] {
  const msgid = frame.msgid;
  if (typeof msgid !== 'number' || !Number.isInteger(msgid)) return [error('BAD_MESSAGE')];
  if (!REQUEST_IDS.includes(msgid)) return [error('UNKNOWN_MSGID', msgid)];
  if (NEEDS_LOGIN.includes(msgid)) return [error('NOT_LOGGED_IN', msgid)];
  switch (msgid) {
    case 18:
      return pingSchema.safeParse(frame).success ? ['PONG'] : [error('BAD_MESSAGE', 18)];
    case 1:
      // Well-formed: no such account, a wrong password (no fuzz value is a real one), or after 10 of
      // those the account's lock.
      return loginSchema.safeParse(frame).success
        ? ['LOGIN_ACK AUTH_BAD_CREDENTIALS', 'LOGIN_ACK RATE_LIMITED']
        : ['LOGIN_ACK BAD_MESSAGE'];
    case 4:
      // Well-formed: a taken name (FUZZ_NAMES), or a name or password the text rules refuse.
      return registerSchema.safeParse(frame).success
        ? ['REG_ACK USER_EXISTS', 'REG_ACK BAD_MESSAGE']
        : ['REG_ACK BAD_MESSAGE'];
    case 20:
      return resumeSchema.safeParse(frame).success
        ? ['RESUME_ACK TOKEN_INVALID']
        : ['RESUME_ACK BAD_MESSAGE'];
    default:
      throw new Error(`no expectation for msgid ${msgid}`);
  }
}

/**
 * One reply as `KIND CODE [re=N]`, checking its shape against docs/PROTOCOL.md on the way (errno from the
 * catalog, no stray fields); anything unexpected comes out as `UNEXPECTED …` so the failure shows it.
 */
export function summarise(reply: Frame): string {
  const { msgid, errno, code, errmsg, re, ...rest } = reply;
  const known = typeof code === 'string' && code in ERROR_CATALOG;
  const catalogErrno = known ? ERROR_CATALOG[code as ErrorCode].errno : undefined;
  const plain = Object.keys(rest).length === 0 && typeof errmsg === 'string';
  if (msgid === 11 && known && errno === catalogErrno && plain)
    return error(code as ErrorCode, re as number | undefined);
  if (msgid === 19 && Object.keys(reply).join() === 'msgid,ts') return 'PONG';
  if (re === undefined && plain && known) {
    if (msgid === 2 && errno === catalogErrno) return `LOGIN_ACK ${code}`;
    // REG_ACK keeps the ancestor's errno 1 for every failure.
    if (msgid === 5 && errno === 1) return `REG_ACK ${code}`;
    if (msgid === 21 && errno === catalogErrno) return `RESUME_ACK ${code}`;
  }
  return `UNEXPECTED ${JSON.stringify(reply)}`;
}
