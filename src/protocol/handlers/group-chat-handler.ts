import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { groupChatSchema } from '../schemas.js';
import { sendAndAck } from './send-message.js';

/** GROUP_CHAT_MSG: members only; stored in every other member's inbox in one transaction, then pushed. */
export const groupChatHandler = defineHandler({
  msgid: MsgId.GROUP_CHAT,
  schema: groupChatSchema,
  v1Silent: true,
  handle: (context, request) => sendAndAck(context, request, { kind: 'group', id: request.groupid }),
});
