import { friendView } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { emptyQuerySchema } from '../schemas.js';

/** FRIEND_LIST: friends with their online state. */
export const friendListHandler = defineHandler({
  msgid: MsgId.FRIEND_LIST,
  schema: emptyQuerySchema,
  async handle(context, request) {
    const user = context.requireUser();
    const friends = await context.services.social.listFriends(user.id);
    context.reply(MsgId.FRIEND_LIST_ACK, request.reqId, { friends: friends.map(friendView) });
  },
});
