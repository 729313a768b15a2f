import { AppError } from '../../errors.js';
import { ackFailure, replyFrame } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { resumeSchema } from '../schemas.js';
import { sessionReplyFields } from './session-reply.js';

/**
 * RESUME (v2): re-attaches the token's device after a reconnect with the signed token from login — no
 * bcrypt — acknowledges what the client already has (`lastSeq`) and replays everything after it.
 */
export const resumeHandler = defineHandler({
  msgid: MsgId.RESUME,
  schema: resumeSchema,
  authAttempt: true,
  failureReply: (error) => ackFailure(MsgId.RESUME_ACK, error),
  async handle(context, request) {
    const { auth } = context.services;
    // `opened`: the device's position when the token was checked — the later read in openSession finds
    // the device open already, so only this one can say it was restarted at the floor (`reset`).
    const { user, device, opened } = await auth.resume(request.token);
    if (request.device !== undefined && request.device !== device) throw new AppError('TOKEN_INVALID');
    const origin =
      request.cid === undefined ? undefined : { cid: request.cid, attempt: request.attempt ?? 0 };
    await context.openSession(user, 2, device, origin, (session, cursor) => {
      const reset = opened.reset || cursor.reset;
      // A device restarted at the floor continues there: what it lacks below it is history.
      const claimed = Math.min(request.lastSeq, cursor.lastSeq);
      const have = reset ? Math.max(claimed, cursor.ackedSeq) : claimed;
      if (have > cursor.ackedSeq) session.acks.ack(have);
      return {
        reply: replyFrame(
          MsgId.RESUME_ACK,
          request.reqId,
          sessionReplyFields(context.services, user, device, cursor, {
            ackedSeq: Math.max(cursor.ackedSeq, have),
            reset,
          }),
        ),
        afterSeq: have,
        lastSeq: cursor.lastSeq,
      };
    });
  },
});
