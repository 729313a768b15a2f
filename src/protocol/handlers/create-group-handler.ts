import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { createGroupSchema } from '../schemas.js';

/** CREATE_GROUP_MSG: the creator becomes `creator`; v2 learns the new group id. */
export const createGroupHandler = defineHandler({
  msgid: MsgId.CREATE_GROUP,
  schema: createGroupSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const group = await context.services.social.createGroup(user.id, request.groupname, request.groupdesc);
    context.ack(request, { groupid: group.id, groupname: group.name });
  },
});
