import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { logoutSchema } from '../schemas.js';

/** LOGINOUT_MSG: ends the session and revokes its tokens; the connection stays open (v1 returns to its menu). */
export const logoutHandler = defineHandler({
  msgid: MsgId.LOGINOUT,
  schema: logoutSchema,
  v1Silent: true,
  async handle(context, request) {
    const user = context.requireUser();
    // A clean logout: the client saw what was written before it (v1 deliveries count as shown).
    await context.endSession(true);
    await context.services.auth.logout(user.id);
    context.ack(request);
  },
});
