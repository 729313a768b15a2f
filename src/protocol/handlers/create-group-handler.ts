import { checkPrintable } from '../../service/text-rules.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { createGroupSchema } from '../schemas.js';

/** CREATE_GROUP_MSG: the creator becomes `creator`; v2 learns the new group id. */
export const createGroupHandler = defineHandler({
  msgid: MsgId.CREATE_GROUP,
  schema: createGroupSchema,
  v1Silent: true,
  async handle(context, request) {
    const user = context.requireUser();
    if (context.repliesTo(request)) checkPrintable(request.groupdesc, 'groupdesc');
    const group = await context.services.social.createGroup(user.id, request.groupname, request.groupdesc);
    context.ack(request, { groupid: group.id, groupname: group.name });
  },
});
