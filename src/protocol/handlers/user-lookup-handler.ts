import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { userLookupSchema } from '../schemas.js';

/** USER_LOOKUP: find a user by name (case-insensitive). */
export const userLookupHandler = defineHandler({
  msgid: MsgId.USER_LOOKUP,
  schema: userLookupSchema,
  async handle(context, request) {
    context.requireUser();
    const user = await context.services.social.lookupUser(request.name);
    context.reply(MsgId.USER_LOOKUP_ACK, request.reqId, {
      user: { id: user.id, name: user.name, online: user.online },
    });
  },
});
