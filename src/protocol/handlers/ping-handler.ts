import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { pingSchema } from '../schemas.js';

/** PING: application heartbeat; any inbound traffic also resets the idle timer. */
export const pingHandler = defineHandler({
  msgid: MsgId.PING,
  schema: pingSchema,
  handle(context, request) {
    context.reply(MsgId.PONG, request.reqId, { ts: context.services.clock.now() });
    return Promise.resolve();
  },
});
