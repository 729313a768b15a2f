import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { addFriendSchema } from '../schemas.js';

/** ADD_FRIEND_MSG: mutual friendship. Errors (self, missing user, already friends) reach v1 too, harmlessly. */
export const addFriendHandler = defineHandler({
  msgid: MsgId.ADD_FRIEND,
  schema: addFriendSchema,
  v1Silent: true,
  async handle(context, request) {
    const user = context.requireUser();
    await context.services.social.addFriend(user.id, request.friendid);
    context.ack(request, { friendid: request.friendid });
  },
});
