import { AppError, toAppError } from '../errors.js';
import { stopwatch } from '../service/telemetry.js';
import type { ClientSession } from './client-session.js';
import type { Handler } from './handler.js';
import { MsgId } from './msgids.js';
import { addFriendHandler } from './handlers/add-friend-handler.js';
import { addGroupHandler } from './handlers/add-group-handler.js';
import { createGroupHandler } from './handlers/create-group-handler.js';
import { friendListHandler } from './handlers/friend-list-handler.js';
import { groupChatHandler } from './handlers/group-chat-handler.js';
import { groupListHandler } from './handlers/group-list-handler.js';
import { historyHandler } from './handlers/history-handler.js';
import { inboxAckHandler } from './handlers/inbox-ack-handler.js';
import { loginHandler } from './handlers/login-handler.js';
import { logoutHandler } from './handlers/logout-handler.js';
import { oneChatHandler } from './handlers/one-chat-handler.js';
import { pingHandler } from './handlers/ping-handler.js';
import { registerHandler } from './handlers/register-handler.js';
import { resumeHandler } from './handlers/resume-handler.js';
import { syncHandler } from './handlers/sync-handler.js';
import { userLookupHandler } from './handlers/user-lookup-handler.js';
import { typingHandler } from './handlers/typing-handler.js';
import { readHandler } from './handlers/read-handler.js';
import { readMarkersHandler } from './handlers/read-markers-handler.js';
import { conversationsHandler } from './handlers/conversations-handler.js';
import { settingsHandler } from './handlers/settings-handler.js';
import { describeIssues, NEEDS_LOGIN } from './schemas.js';

const HANDLERS: readonly Handler[] = [
  loginHandler,
  logoutHandler,
  registerHandler,
  oneChatHandler,
  addFriendHandler,
  createGroupHandler,
  addGroupHandler,
  groupChatHandler,
  syncHandler,
  inboxAckHandler,
  historyHandler,
  pingHandler,
  resumeHandler,
  friendListHandler,
  groupListHandler,
  userLookupHandler,
  typingHandler,
  readHandler,
  readMarkersHandler,
  conversationsHandler,
  settingsHandler,
];

/** Request names by msgid (the `command` label of parley_request_duration_seconds). */
const COMMANDS = new Map<number, string>(Object.entries(MsgId).map(([name, id]) => [id, name]));

/**
 * Turns one inbound frame into one handler call: parse, validate, check login and identity, run.
 * Every failure becomes exactly one error reply; nothing a client sends can throw out of here.
 */
export class Dispatcher {
  private readonly handlers = new Map<number, Handler>(HANDLERS.map((h) => [h.msgid, h]));

  async handleFrame(context: ClientSession, text: string): Promise<void> {
    const elapsed = stopwatch();
    const command = await this.dispatch(context, text);
    context.services.telemetry.requestHandled(command, elapsed());
  }

  /** Handles the frame; resolves with the command's name for metrics (INVALID, UNKNOWN when there is none). */
  private async dispatch(context: ClientSession, text: string): Promise<string> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      context.fail(new AppError('BAD_MESSAGE', 'invalid JSON'), undefined, undefined);
      return 'INVALID';
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      context.fail(new AppError('BAD_MESSAGE', 'expected a JSON object'), undefined, undefined);
      return 'INVALID';
    }
    const { msgid, reqId: rawReqId } = raw as { msgid?: unknown; reqId?: unknown };
    const reqId = typeof rawReqId === 'string' || typeof rawReqId === 'number' ? rawReqId : undefined;
    if (typeof msgid !== 'number' || !Number.isInteger(msgid)) {
      context.fail(new AppError('BAD_MESSAGE', 'msgid must be an integer'), undefined, reqId);
      return 'INVALID';
    }
    const handler = this.handlers.get(msgid);
    try {
      if (!handler) throw new AppError('UNKNOWN_MSGID', `no request type ${msgid}`);
      if (NEEDS_LOGIN.has(msgid) && !context.user) throw new AppError('NOT_LOGGED_IN');
      if (handler.authAttempt && !context.takeAuthAttempt()) {
        throw new AppError('RATE_LIMITED', 'too many login attempts on this connection');
      }
      const parsed = handler.schema.safeParse(raw);
      if (!parsed.success) throw new AppError('BAD_MESSAGE', describeIssues(parsed.error));
      // The claimed id is read from the raw frame: a request type without an `id` field must still refuse
      // a foreign one rather than drop it silently.
      const claimed = (raw as { id?: unknown }).id;
      if (!handler.authAttempt && context.user && claimed !== undefined && claimed !== context.user.id) {
        throw new AppError('IDENTITY_MISMATCH');
      }
      await this.run(context, handler, parsed.data as { v?: 1 | 2 });
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === 'INTERNAL') context.logger.error({ err: error, msgid }, 'request failed');
      else if (appError.code === 'UNAVAILABLE')
        context.logger.warn({ err: error, msgid }, 'dependency unavailable');
      context.fail(appError, msgid, reqId, handler?.failureReply);
    }
    return handler ? (COMMANDS.get(msgid) ?? 'UNKNOWN') : 'UNKNOWN';
  }

  /**
   * Runs a handler. A v1 request whose client hears no reply is held while the store is unavailable and
   * retried (this connection's later frames wait behind it, so order is kept) for V1_HOLD_MS; then it
   * fails with HELD_TOO_LONG, which closes the connection.
   */
  private async run(context: ClientSession, handler: Handler, request: { v?: 1 | 2 }): Promise<void> {
    if (!handler.v1Silent || context.repliesTo(request)) return handler.handle(context, request);
    const { clock } = context.services;
    const deadline = clock.now() + context.v1HoldMs;
    for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
      try {
        return await handler.handle(context, request);
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'UNAVAILABLE' || context.connectionClosed)
          throw error;
        const left = deadline - clock.now();
        if (left <= 0) throw new AppError('HELD_TOO_LONG', undefined, { cause: error });
        context.logger.warn({ err: error, msgid: handler.msgid }, 'store unavailable; holding a v1 request');
        await delay(Math.min(pause, left));
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
