import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { addGroupSchema } from '../schemas.js';

/** ADD_GROUP_MSG: join an existing group as `normal`. */
export const addGroupHandler = defineHandler({
  msgid: MsgId.ADD_GROUP,
  schema: addGroupSchema,
  v1Silent: true,
  async handle(context, request) {
    const user = context.requireUser();
    const group = await context.services.social.joinGroup(user.id, request.groupid);
    context.ack(request, { groupid: group.id, groupname: group.name });
  },
});
