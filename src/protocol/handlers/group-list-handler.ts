import { groupView } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { emptyQuerySchema } from '../schemas.js';

/** GROUP_LIST: the caller's groups with members, roles and online state. */
export const groupListHandler = defineHandler({
  msgid: MsgId.GROUP_LIST,
  schema: emptyQuerySchema,
  async handle(context, request) {
    const user = context.requireUser();
    const groups = await context.services.social.listGroups(user.id);
    context.reply(MsgId.GROUP_LIST_ACK, request.reqId, { groups: groups.map(groupView) });
  },
});
