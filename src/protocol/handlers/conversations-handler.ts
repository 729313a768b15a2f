import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { conversationsSchema } from '../schemas.js';
import { conversationView } from '../encode-live.js';

/** CONVERSATIONS: the home screen — conversations with messages, newest first, with unread counts. */
export const conversationsHandler = defineHandler({
  msgid: MsgId.CONVERSATIONS,
  schema: conversationsSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const page = await context.services.live.conversations(user.id, request.before, request.limit);
    context.reply(MsgId.CONVERSATIONS_ACK, request.reqId, {
      conversations: page.items.map(conversationView),
      more: page.more,
    });
  },
});
