import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { groupChatSchema } from '../schemas.js';

/** GROUP_CHAT_MSG: members only; stored in every other member's inbox in one transaction, then pushed. */
export const groupChatHandler = defineHandler({
  msgid: MsgId.GROUP_CHAT,
  schema: groupChatSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const result = await context.services.messages.send({
      senderId: user.id,
      target: { kind: 'group', id: request.groupid },
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
