import { v2Delivery } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { syncSchema } from '../schemas.js';

/** SYNC: a page of the caller's inbox after `after`; `more` says another page follows. */
export const syncHandler = defineHandler({
  msgid: MsgId.SYNC,
  schema: syncSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const limit = request.limit ?? context.services.limits.pageSize;
    const page = await context.services.messages.sync(user.id, context.device, request.after, limit);
    const lastReturned = page.entries.at(-1)?.seq ?? request.after;
    context.reply(MsgId.SYNC_ACK, request.reqId, {
      messages: page.entries.map((entry) => v2Delivery(entry, user.id)),
      lastSeq: page.lastSeq,
      ackedSeq: page.ackedSeq,
      more: lastReturned < page.lastSeq,
    });
  },
});
