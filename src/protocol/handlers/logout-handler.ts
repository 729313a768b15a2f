import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { logoutSchema } from '../schemas.js';

/** LOGINOUT_MSG: ends the session and revokes its tokens; the connection stays open (v1 returns to its menu). */
export const logoutHandler = defineHandler({
  msgid: MsgId.LOGINOUT,
  schema: logoutSchema,
  async handle(context, request) {
    const user = context.requireUser();
    await context.endSession();
    await context.services.auth.logout(user.id);
    context.ack(request);
  },
});
