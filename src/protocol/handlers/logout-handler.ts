import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { logoutSchema } from '../schemas.js';

/**
 * LOGINOUT_MSG: ends this device's session and revokes its tokens (`everywhere`: every device's tokens and
 * sessions); the connection stays open (v1 returns to its menu).
 */
export const logoutHandler = defineHandler({
  msgid: MsgId.LOGINOUT,
  schema: logoutSchema,
  v1Silent: true,
  async handle(context, request) {
    const user = context.requireUser();
    const { auth, sessions } = context.services;
    // Revoke the tokens first: if the store is unavailable the request fails (or is held, for v1) with the
    // user still logged in, so a retry does it all again.
    if (request.everywhere) {
      await auth.logoutEverywhere(user.id);
      await sessions.kickEverywhere(user.id, context.session);
    } else {
      await auth.logoutDevice(user.id, context.device);
    }
    // A clean logout: the client saw what was written before it (v1 deliveries count as shown).
    await context.endSession(true);
    context.ack(request);
  },
});
