import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { settingsSchema } from '../schemas.js';

/** SETTINGS: reads, or with `presence` changes, the account's presence setting (hidden or visible). */
export const settingsHandler = defineHandler({
  msgid: MsgId.SETTINGS,
  schema: settingsSchema,
  async handle(context, request) {
    const user = context.requireUser();
    const { live } = context.services;
    if (request.presence !== undefined) await live.setPresenceHidden(user.id, request.presence === 'hidden');
    const hidden =
      request.presence !== undefined ? request.presence === 'hidden' : await live.presenceHidden(user.id);
    context.reply(MsgId.SETTINGS_ACK, request.reqId, { presence: hidden ? 'hidden' : 'visible' });
  },
});
