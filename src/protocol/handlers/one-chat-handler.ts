import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { oneChatSchema } from '../schemas.js';

/** ONE_CHAT_MSG: stored in the recipient's inbox, then pushed; v2 gets an ACK with the server id. */
export const oneChatHandler = defineHandler({
  msgid: MsgId.ONE_CHAT,
  schema: oneChatSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const result = await context.services.messages.send({
      senderId: user.id,
      target: { kind: 'user', id: request.toid },
      body: request.msg,
      clientTime: request.time,
      cmid: request.cmid,
    });
    context.ack(request, {
      mid: result.message.id,
      ts: result.message.createdAt,
      ...(result.duplicate ? { duplicate: true } : {}),
    });
  },
});
