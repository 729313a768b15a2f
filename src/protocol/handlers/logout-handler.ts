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
    // Revoke the tokens first: if the store is unavailable the request fails (or is held, for v1) with the
    // user still logged in, so a retry does it all again.
    await context.services.auth.logout(user.id);
    // A clean logout: the client saw what was written before it (v1 deliveries count as shown).
    await context.endSession(true);
    context.ack(request);
  },
});
