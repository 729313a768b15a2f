import { ackFailure, replyFrame } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { resumeSchema } from '../schemas.js';

/**
 * RESUME (v2): re-attaches a session after a reconnect with the signed token from login — no bcrypt —
 * acknowledges what the client already has (`lastSeq`) and replays everything after it.
 */
export const resumeHandler = defineHandler({
  msgid: MsgId.RESUME,
  schema: resumeSchema,
  authAttempt: true,
  failureReply: (error) => ackFailure(MsgId.RESUME_ACK, error),
  async handle(context, request) {
    const user = await context.services.auth.resume(request.token);
    const origin =
      request.cid === undefined ? undefined : { cid: request.cid, attempt: request.attempt ?? 0 };
    await context.openSession(user, 2, origin, (session, cursor) => {
      const have = Math.min(request.lastSeq, cursor.lastSeq);
      if (have > cursor.ackedSeq) session.acks.ack(have);
      return {
        reply: replyFrame(MsgId.RESUME_ACK, request.reqId, {
          errno: 0,
          id: user.id,
          name: user.name,
          v: 2,
          token: context.services.auth.issueToken(user),
          ackedSeq: Math.max(cursor.ackedSeq, have),
          lastSeq: cursor.lastSeq,
          node: context.services.nodeId,
        }),
        afterSeq: have,
        lastSeq: cursor.lastSeq,
      };
    });
  },
});
