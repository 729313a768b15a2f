import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { readMarkersSchema } from '../schemas.js';
import { conversationOf } from './conversation-target.js';
import { targetFields } from '../encode-live.js';

/** READ_MARKERS: every participant's read marker of a conversation (group receipts are pulled, not pushed). */
export const readMarkersHandler = defineHandler({
  msgid: MsgId.READ_MARKERS,
  schema: readMarkersSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const target = conversationOf(request);
    const markers = await context.services.live.markers(user.id, target);
    context.reply(MsgId.READ_MARKERS_ACK, request.reqId, {
      ...targetFields(target),
      markers: markers.map((m) => ({ id: m.userId, upTo: m.upTo })),
    });
  },
});
