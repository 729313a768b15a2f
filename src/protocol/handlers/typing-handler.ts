import { AppError } from '../../errors.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { typingSchema } from '../schemas.js';

/**
 * TYPING: relayed live to the friend's (or the group's other members') devices, never stored. Over the
 * connection's typing budget a notice is dropped — silently unless it asked for a reply (`reqId`).
 */
export const typingHandler = defineHandler({
  msgid: MsgId.TYPING,
  schema: typingSchema,
  async handle(context, request) {
    const user = context.requireUser();
    if (!context.takeTypingBudget()) {
      if (request.reqId !== undefined) throw new AppError('RATE_LIMITED', 'too many typing notices');
      return;
    }
    const target =
      request.to !== undefined
        ? { kind: 'user' as const, id: request.to }
        : { kind: 'group' as const, id: request.groupid! };
    await context.services.live.typing(user.id, target, request.state);
    if (request.reqId !== undefined) context.ack(request);
  },
});
