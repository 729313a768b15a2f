import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { inboxAckSchema } from '../schemas.js';

/**
 * INBOX_ACK: the client's device processed everything up to `seq`; writes are coalesced per session. A
 * notification unless it carries a `reqId`: one ack per delivered message is the commonest frame a busy
 * client sends, and answering each cost a frame back through the load balancer that no client reads
 * (errors still reply).
 */
export const inboxAckHandler = defineHandler({
  msgid: MsgId.INBOX_ACK,
  schema: inboxAckSchema,
  async handle(context, request) {
    const user = context.requireUser();
    if (context.session) context.session.acks.ack(request.seq);
    else await context.services.messages.ack(user.id, context.device, request.seq);
    if (request.reqId !== undefined) context.ack(request, { seq: request.seq });
  },
});
