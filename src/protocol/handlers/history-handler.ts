import { v2Message } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { historySchema } from '../schemas.js';

/** HISTORY: a conversation's messages, newest first, paged backwards with `before` (a message id). */
export const historyHandler = defineHandler({
  msgid: MsgId.HISTORY,
  schema: historySchema,
  async handle(context, request) {
    const user = context.requireUser();
    const limit = Math.min(request.limit ?? 50, context.services.limits.pageSize);
    const target =
      request.groupid !== undefined
        ? { kind: 'group' as const, id: request.groupid }
        : { kind: 'user' as const, id: request.with! };
    // One extra row tells whether an older page exists.
    const found = await context.services.messages.history(user.id, target, request.before, limit + 1);
    context.reply(MsgId.HISTORY_ACK, request.reqId, {
      messages: found.slice(0, limit).map(v2Message),
      more: found.length > limit,
    });
  },
});
