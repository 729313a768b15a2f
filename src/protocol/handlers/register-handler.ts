import { ackFailure } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { registerSchema } from '../schemas.js';

/** REG_MSG: `{errno:0,id}` on success; failures keep the ancestor's errno 1 and add `code`/`errmsg`. */
export const registerHandler = defineHandler({
  msgid: MsgId.REG,
  schema: registerSchema,
  authAttempt: true,
  // The ancestor answers every failed registration with errno 1; `code` tells the reasons apart.
  failureReply: (error) => ackFailure(MsgId.REG_ACK, error, 1),
  async handle(context, request) {
    const user = await context.services.auth.register(request.name, request.password, context.remoteIp);
    const fields: Record<string, unknown> = { errno: 0, id: user.id };
    if (request.v === 2) fields.name = user.name;
    context.reply(MsgId.REG_ACK, request.reqId, fields);
  },
});
