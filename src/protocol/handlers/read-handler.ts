import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { readSchema } from '../schemas.js';
import { conversationOf } from './conversation-target.js';
import { targetFields } from '../encode-live.js';

/** READ: moves the caller's read marker of a conversation forward; the reply says where it is now. */
export const readHandler = defineHandler({
  msgid: MsgId.READ,
  schema: readSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const target = conversationOf(request);
    const upTo = await context.services.live.markRead(user.id, target, request.upTo, context.device);
    context.ack(request, { ...targetFields(target), upTo });
  },
});
