import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { oneChatSchema } from '../schemas.js';
import { sendAndAck } from './send-message.js';

/** ONE_CHAT_MSG: stored in the recipient's inbox, then pushed; v2 gets an ACK with the server id. */
export const oneChatHandler = defineHandler({
  msgid: MsgId.ONE_CHAT,
  schema: oneChatSchema,
  v1Silent: true,
  handle: (context, request) => sendAndAck(context, request, { kind: 'user', id: request.toid }),
});
