import { AppError } from '../errors.js';
import type { InboxEntry, StoredMessage } from '../service/ports.js';
import type { GroupView, OnlineUser } from '../service/social-service.js';
import { MsgId } from './msgids.js';

// v1 shapes list keys in alphabetical order, as nlohmann::json dump() did, so old clients see byte-identical
// objects. Old clients print `time` and parse `[id]name said: msg`.

/** A chat message exactly as the ancestor forwarded it (ONE_CHAT_MSG / GROUP_CHAT_MSG). */
export function v1Message(message: StoredMessage): Record<string, unknown> {
  if (message.target.kind === 'group') {
    return {
      groupid: message.target.id,
      id: message.senderId,
      msg: message.body,
      msgid: MsgId.GROUP_CHAT,
      name: message.senderName,
      time: message.clientTime,
    };
  }
  return {
    id: message.senderId,
    msg: message.body,
    msgid: MsgId.ONE_CHAT,
    name: message.senderName,
    time: message.clientTime,
    toid: message.target.id,
  };
}

/** v1 fields plus the server id, creation time, and (group) name: used in history replies. */
export function v2Message(message: StoredMessage): Record<string, unknown> {
  const out = v1Message(message);
  out.mid = message.id;
  out.ts = message.createdAt;
  if (message.groupName !== undefined) out.groupname = message.groupName;
  return out;
}

/**
 * A delivered inbox entry for a v2 client: the message plus its inbox sequence number, and `own` on a copy
 * of the recipient's own send (the user has several devices).
 */
export function v2Delivery(entry: InboxEntry, recipient: number): Record<string, unknown> {
  // Built in place rather than by spreading: this runs once per delivered message.
  const out = v2Message(entry.message);
  out.seq = entry.seq;
  if (entry.message.senderId === recipient) {
    out.own = true;
    // The sending device recognises the copy of its own send by the id it chose.
    if (entry.message.cmid !== null) out.cmid = entry.message.cmid;
  }
  return out;
}

/** A friend with presence: `online` (as always) plus `state` and `lastSeen`. */
export function friendView(friend: OnlineUser): Record<string, unknown> {
  return {
    id: friend.id,
    name: friend.name,
    online: friend.online,
    state: friend.online ? 'online' : 'offline',
    lastSeen: friend.lastSeen,
  };
}

export function groupView(group: GroupView): Record<string, unknown> {
  return {
    id: group.id,
    groupname: group.name,
    groupdesc: group.desc,
    users: group.members.map((m) => ({ id: m.id, name: m.name, role: m.role, online: m.online })),
  };
}

/** The ERROR reply; `re` names the request's msgid when known. Closing errors say whether to reconnect. */
export function errorReply(error: AppError, re: number | undefined, reqId: unknown): Record<string, unknown> {
  const reply: Record<string, unknown> = {
    msgid: MsgId.ERROR,
    errno: error.errno,
    code: error.code,
    errmsg: error.message,
  };
  if (re !== undefined) reply.re = re;
  if (reqId !== undefined) reply.reqId = reqId;
  if (error.closesConnection) reply.reconnect = error.reconnect;
  if (error.retryAfterMs !== undefined) reply.retryAfterMs = error.retryAfterMs;
  return reply;
}

/** The one line a socket over the connection limit gets before it is closed. */
export function serverBusyFrame(): string {
  return JSON.stringify(errorReply(new AppError('SERVER_BUSY'), undefined, undefined));
}

/** The one line a socket over the per-address connection limit gets before it is closed. */
export function tooManyConnectionsFrame(): string {
  return JSON.stringify(errorReply(new AppError('TOO_MANY_CONNECTIONS'), undefined, undefined));
}

/** A failure in the shape of a request's own reply type (LOGIN_ACK, REG_ACK, RESUME_ACK). */
export function failureFrame(shape: Record<string, unknown>, reqId: unknown): Record<string, unknown> {
  return reqId === undefined ? shape : { ...shape, reqId };
}

/** The failure shape of an ack the ancestor client waits for: `{msgid, errno, errmsg, code}`. */
export function ackFailure(msgid: number, error: AppError, errno = error.errno): Record<string, unknown> {
  const reply: Record<string, unknown> = { msgid, errno, errmsg: error.message, code: error.code };
  if (error.retryAfterMs !== undefined) reply.retryAfterMs = error.retryAfterMs;
  return reply;
}

/** A server-initiated notice (KICKED, SERVER_NOTICE) carrying a catalog error and extra fields. */
export function noticeFrame(
  msgid: number,
  error: AppError,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return {
    msgid,
    errno: error.errno,
    code: error.code,
    errmsg: error.message,
    reconnect: error.reconnect,
    ...extra,
  };
}

/** The generic success reply to request type `re`. */
export function ackFrame(
  re: number,
  reqId: unknown,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return { msgid: MsgId.ACK, re, ...withReqId(reqId), ...fields };
}

/** A reply of its own type. */
export function replyFrame(
  msgid: number,
  reqId: unknown,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return { msgid, ...withReqId(reqId), ...fields };
}

function withReqId(reqId: unknown): Record<string, unknown> {
  return reqId === undefined ? {} : { reqId };
}
