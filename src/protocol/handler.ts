import type { z } from 'zod';
import type { AppError } from '../errors.js';
import type { ClientSession } from './client-session.js';

/** One protocol command: its request schema and what it does. One file per command under handlers/. */
export interface Handler {
  readonly msgid: number;
  readonly schema: z.ZodType;
  /** Login, register and resume draw from the per-connection login rate limit. */
  readonly authAttempt?: boolean;
  /**
   * The ancestor's client hears no reply to this request (chat, friends, groups, logout): when it cannot
   * be stored right now (UNAVAILABLE) it is held and retried instead of answered with an error it drops.
   */
  readonly v1Silent?: boolean;
  /**
   * The reply for a failed request when it is not the generic ERROR: the ancestor client waits for
   * LOGIN_MSG_ACK/REG_MSG_ACK after login/register, so their failures must come in those shapes.
   */
  readonly failureReply?: (error: AppError) => Record<string, unknown>;
  /** Called only with a request that passed `schema`. */
  handle(context: ClientSession, request: unknown): Promise<void>;
}

/** Types `handle`'s request from the schema. */
export function defineHandler<S extends z.ZodType>(handler: {
  msgid: number;
  schema: S;
  authAttempt?: boolean;
  v1Silent?: boolean;
  failureReply?: (error: AppError) => Record<string, unknown>;
  handle(context: ClientSession, request: z.output<S>): Promise<void>;
}): Handler {
  return { ...handler, handle: (context, request) => handler.handle(context, request as z.output<S>) };
}
