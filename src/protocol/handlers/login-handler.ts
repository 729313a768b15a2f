import type { UserRecord } from '../../service/ports.js';
import type { ClientContext } from '../client-context.js';
import { v1LoginAck } from '../encode.js';
import { defineHandler } from '../handler.js';
import { MsgId } from '../msgids.js';
import { loginSchema } from '../schemas.js';

/**
 * LOGIN_MSG. v1: the ack carries friends, groups and up to V1_OFFLINE_BATCH offline messages (the rest
 * follow as ordinary messages); they count as delivered once written. v2: the ack carries a session token
 * and the inbox cursor, then everything after the acked sequence is pushed.
 */
export const loginHandler = defineHandler({
  msgid: MsgId.LOGIN,
  schema: loginSchema,
  authAttempt: true,
  failureReply: (error) => ({
    msgid: MsgId.LOGIN_ACK,
    errno: error.errno,
    errmsg: error.message,
    code: error.code,
  }),
  async handle(context, request) {
    const identity = request.id !== undefined ? { id: request.id } : { name: request.name ?? '' };
    const user = await context.services.auth.login(identity, request.password);
    if (request.v === 2) await loginV2(context, user, request.reqId, request.cid);
    else await loginV1(context, user);
  },
});

async function loginV1(context: ClientContext, user: UserRecord): Promise<void> {
  const { social, messages, limits } = context.services;
  const session = await context.beginSession(user, 1);
  const cursor = await messages.cursor(user.id);
  const [friends, groups, pending] = await Promise.all([
    social.listFriends(user.id),
    social.listGroups(user.id),
    messages.sync(user.id, cursor.ackedSeq, limits.v1OfflineBatch),
  ]);
  const lastIncluded = pending.entries.at(-1)?.seq ?? cursor.ackedSeq;
  context.send(v1LoginAck(user, friends, groups, pending.entries), () => session.acks.ack(lastIncluded));
  session.pump.start(lastIncluded);
}

async function loginV2(
  context: ClientContext,
  user: UserRecord,
  reqId: unknown,
  cid: string | undefined,
): Promise<void> {
  const session = await context.beginSession(user, 2, cid === undefined ? undefined : { cid, attempt: 0 });
  const cursor = await context.services.messages.cursor(user.id);
  context.reply(MsgId.LOGIN_ACK, reqId, {
    errno: 0,
    id: user.id,
    name: user.name,
    v: 2,
    token: context.services.auth.issueToken(user),
    ackedSeq: cursor.ackedSeq,
    lastSeq: cursor.lastSeq,
    node: context.services.nodeId,
  });
  session.pump.start(cursor.ackedSeq, cursor.lastSeq);
}
