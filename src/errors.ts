/**
 * The error catalog: every error a client can see has a stable string `code`, a numeric `errno`
 * (the ancestor protocol's field), a default message, and flags saying whether the client may see the
 * message text and whether the connection must close. Internals never leak: unknown errors become INTERNAL.
 */
export interface ErrorSpec {
  readonly errno: number;
  readonly message: string;
  /** When true the connection is closed after the error reply is written. */
  readonly close: boolean;
  /**
   * For closing errors: whether a client should reconnect on its own (told in the frame as `reconnect`).
   * False where reconnecting would repeat the problem or fight another session.
   */
  readonly reconnect?: boolean;
}

export const ERROR_CATALOG = {
  // errno 1 and 2 keep the ancestor's LOGIN_MSG_ACK meanings so old clients print the right thing.
  AUTH_BAD_CREDENTIALS: { errno: 1, message: 'id or password is invalid!', close: false },
  USER_EXISTS: { errno: 3, message: 'name is already taken', close: false },
  BAD_MESSAGE: { errno: 10, message: 'malformed message', close: false },
  UNKNOWN_MSGID: { errno: 11, message: 'unknown msgid', close: false },
  PAYLOAD_TOO_LARGE: { errno: 12, message: 'frame exceeds the maximum size', close: true, reconnect: false },
  NOT_LOGGED_IN: { errno: 13, message: 'log in first', close: false },
  IDENTITY_MISMATCH: { errno: 14, message: 'the id in the message is not the logged-in user', close: false },
  CMID_CONFLICT: {
    errno: 15,
    message: 'this cmid was already used for a different message (another text or target)',
    close: false,
  },
  USER_NOT_FOUND: { errno: 20, message: 'no such user', close: false },
  GROUP_NOT_FOUND: { errno: 21, message: 'no such group', close: false },
  NOT_MEMBER: { errno: 22, message: 'you are not a member of this group', close: false },
  ALREADY_FRIENDS: { errno: 23, message: 'already friends', close: false },
  SELF_FRIEND: { errno: 24, message: 'you cannot add yourself as a friend', close: false },
  ALREADY_MEMBER: { errno: 25, message: 'already a member of this group', close: false },
  GROUP_EXISTS: { errno: 26, message: 'a group with this name exists', close: false },
  NOT_FRIENDS: { errno: 27, message: 'you are not friends with this user', close: false },
  TOKEN_INVALID: { errno: 30, message: 'session token is invalid or expired; log in again', close: false },
  RATE_LIMITED: { errno: 40, message: 'too many requests; slow down', close: false },
  SLOW_CONSUMER: {
    errno: 41,
    message: 'connection closed: client is not reading its messages',
    close: true,
    reconnect: true,
  },
  IDLE_TIMEOUT: {
    errno: 42,
    message: 'connection closed: no traffic within the heartbeat timeout',
    close: true,
    reconnect: true,
  },
  SERVER_BUSY: {
    errno: 43,
    message: 'server has reached its connection limit; try again later',
    close: true,
    reconnect: true,
  },
  SERVER_DRAINING: { errno: 44, message: 'server is shutting down; reconnect', close: true, reconnect: true },
  KICKED: { errno: 45, message: 'this account logged in elsewhere', close: true, reconnect: false },
  FLOODING: {
    errno: 46,
    message: 'connection closed: far more requests than the rate limit allows',
    close: true,
    reconnect: false,
  },
  TOO_MANY_CONNECTIONS: {
    errno: 48,
    message: 'too many connections from your address; close some and try again',
    close: true,
    reconnect: false,
  },
  RESUME_SUPERSEDED: {
    errno: 47,
    message: 'a newer connection of this client already resumed the session; this one is stale',
    close: true,
    reconnect: false,
  },
  UNAVAILABLE: { errno: 50, message: 'service temporarily unavailable; retry', close: false },
  // v1 clients never read an error reply to a chat message: after V1_HOLD_MS of retries the connection
  // closes, so the person sees a disconnect rather than a silent loss.
  HELD_TOO_LONG: {
    errno: 51,
    message: 'your request could not be stored for too long; connection closed',
    close: true,
    reconnect: true,
  },
  TOO_MANY_DEVICES: {
    errno: 52,
    message: 'this account is online on too many devices; log out on one of them first',
    close: false,
  },
  INTERNAL: { errno: 99, message: 'internal error', close: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error with a catalog code; `detail` (safe to show) refines the default message. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  /** When retrying can succeed: how long to wait first (sent to the client as `retryAfterMs`). */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, detail?: string, options?: ErrorOptions & { retryAfterMs?: number }) {
    super(detail ? `${ERROR_CATALOG[code].message}: ${detail}` : ERROR_CATALOG[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = options?.retryAfterMs;
  }

  get errno(): number {
    return ERROR_CATALOG[this.code].errno;
  }

  get closesConnection(): boolean {
    return ERROR_CATALOG[this.code].close;
  }

  /** For closing errors: whether the client should reconnect by itself. */
  get reconnect(): boolean {
    const spec: ErrorSpec = ERROR_CATALOG[this.code];
    return spec.reconnect ?? false;
  }
}

/** Turns anything thrown into an AppError; unknown errors become INTERNAL (the caller logs the original). */
export function toAppError(error: unknown): AppError {
  return error instanceof AppError ? error : new AppError('INTERNAL', undefined, { cause: error });
}

/** A start-up failure whose message names the setting to fix (the process exits 1). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}
