import { isOwnCopy } from '../../service/conversation.js';
import { DEFAULT_DEVICE, V1_DEVICE, type UserRecord } from '../../service/ports.js';
import type { ClientSession } from '../client-session.js';
import { ackFailure, friendView, replyFrame } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { loginSchema } from '../schemas.js';
import { sessionReplyFields } from './session-reply.js';
import { v1LoginAckFrame } from '../v1-frames.js';

/**
 * LOGIN_MSG. v1: the ack carries friends, groups and up to V1_OFFLINE_BATCH offline messages, all within
 * V1_MAX_FRAME_BYTES (the rest follow as ordinary messages); they count as delivered once the write settled
 * (see V1DeliveryConfirmer). v2: the ack carries a session token for the device, the device's inbox
 * position and the friends' presence, then everything after the device's acked sequence is pushed.
 */
export const loginHandler = defineHandler({
  msgid: MsgId.LOGIN,
  schema: loginSchema,
  authAttempt: true,
  failureReply: (error) => ackFailure(MsgId.LOGIN_ACK, error),
  async handle(context, request) {
    const identity = request.id !== undefined ? { id: request.id } : { name: request.name ?? '' };
    const user = await context.services.auth.login(identity, request.password, context.remoteIp);
    if (request.v === 2) {
      const origin = request.cid === undefined ? undefined : { cid: request.cid, attempt: 0 };
      await loginV2(context, user, request.reqId, request.device ?? DEFAULT_DEVICE, origin);
    } else {
      await loginV1(context, user);
    }
  },
});

async function loginV1(context: ClientSession, user: UserRecord): Promise<void> {
  const { social, messages, limits } = context.services;
  await context.openSession(user, 1, V1_DEVICE, undefined, async (_session, cursor) => {
    // The cursor was read after the subscription went live: a device that has everything (most repeat
    // logins) reads no inbox page; whatever arrives meanwhile is announced on the bus to the pump.
    const upToDate = cursor.ackedSeq >= cursor.lastSeq;
    const [friends, groups, pending] = await Promise.all([
      social.listFriends(user.id),
      social.listGroups(user.id),
      upToDate ? undefined : messages.sync(user.id, V1_DEVICE, cursor.ackedSeq, limits.v1OfflineBatch),
    ]);
    // The old client cannot tell a copy of its own send (for the user's other devices) from a message to it.
    const offline = (pending?.entries ?? []).filter((entry) => !isOwnCopy(entry.message, user.id));
    // Sized in bytes for the ancestor's 1024-byte read: what does not fit follows as chat frames.
    const ack = v1LoginAckFrame(user, friends, groups, offline, context.v1MaxFrameBytes);
    const lastIncluded = ack.offlineIncluded > 0 ? offline[ack.offlineIncluded - 1]!.seq : cursor.ackedSeq;
    return {
      reply: ack.frame,
      // Nothing to confirm (no settle timer) when the reply carried no offline messages.
      ...(ack.offlineIncluded > 0 ? { onReplyFlushed: () => context.v1Flushed(lastIncluded) } : {}),
      afterSeq: lastIncluded,
      // Lets the pump skip its first read when the reply carried everything up to the cursor's end.
      lastSeq: cursor.lastSeq,
    };
  });
}

async function loginV2(
  context: ClientSession,
  user: UserRecord,
  reqId: unknown,
  device: string,
  origin: { cid: string; attempt: number } | undefined,
): Promise<void> {
  const { services } = context;
  await context.openSession(user, 2, device, origin, async (_session, cursor) => {
    const friends = await services.social.listFriends(user.id);
    return {
      reply: replyFrame(MsgId.LOGIN_ACK, reqId, {
        ...sessionReplyFields(services, user, device, cursor, cursor),
        friends: friends.map(friendView),
      }),
      afterSeq: cursor.ackedSeq,
      lastSeq: cursor.lastSeq,
    };
  });
}
