import { z } from 'zod';
import { MsgId } from './msgids.js';

// Ids fit MySQL's signed INT, like the ancestor schema.
const id = z.number().int().min(1).max(2_147_483_647);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const reqId = z.union([z.string().max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);
const limit = z.number().int().min(1).max(1000);
/** A device name (PROTOCOL.md, Devices): stable per installation, chosen by the client. */
const device = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'device: 1–64 characters of A-Z a-z 0-9 . _ : -')
  .refine((name) => name !== 'v1', 'device: "v1" is the ancestor client\'s');
/** A conversation: exactly one of `with` (a user) and `groupid`. */
const oneConversation = (m: { with?: number | undefined; groupid?: number | undefined }): boolean =>
  (m.with === undefined) !== (m.groupid === undefined);
const oneConversationMessage = { message: 'give exactly one of with, groupid' };

/** Fields every request may carry: `reqId` is echoed in the reply; `v: 2` opts in to protocol v2. */
const base = {
  msgid: z.number().int(),
  reqId: reqId.optional(),
  v: z.union([z.literal(1), z.literal(2)]).optional(),
};
/** The ancestor clients repeat their own id (and name) in requests; identity comes from the login instead. */
const claimedSender = { id: id.optional(), name: z.string().max(200).optional() };

export const loginSchema = z
  .object({
    ...base,
    id: id.optional(),
    name: z.string().max(200).optional(),
    password: z.string().max(1024),
    /** v2: the client instance's own id, echoed in a later KICKED so it can spot its own stale attempts. */
    cid: z.string().min(1).max(64).optional(),
    /** v2: this installation's device name; absent: the `default` device. */
    device: device.optional(),
  })
  .refine((m) => m.id !== undefined || m.name !== undefined, { message: 'id or name is required' });
export const registerSchema = z.object({
  ...base,
  name: z.string().max(200),
  password: z.string().max(1024),
});
export const logoutSchema = z.object({ ...base, id: id.optional(), everywhere: z.boolean().optional() });
export const oneChatSchema = z.object({
  ...base,
  ...claimedSender,
  toid: id,
  msg: z.string(),
  time: z.string().max(64).optional(),
  cmid: z.string().min(1).max(64).optional(),
});
export const groupChatSchema = z.object({
  ...base,
  ...claimedSender,
  groupid: id,
  msg: z.string(),
  time: z.string().max(64).optional(),
  cmid: z.string().min(1).max(64).optional(),
});
export const addFriendSchema = z.object({ ...base, id: id.optional(), friendid: id });
export const createGroupSchema = z.object({
  ...base,
  id: id.optional(),
  groupname: z.string().max(200),
  groupdesc: z.string().max(1000).default(''),
});
export const addGroupSchema = z.object({ ...base, id: id.optional(), groupid: id });
export const syncSchema = z.object({ ...base, after: seq.default(0), limit: limit.optional() });
export const inboxAckSchema = z.object({ ...base, seq });
export const historySchema = z
  .object({
    ...base,
    with: id.optional(),
    groupid: id.optional(),
    before: seq.optional(),
    limit: limit.optional(),
  })
  .refine((m) => (m.with === undefined) !== (m.groupid === undefined), {
    message: 'give exactly one of with, groupid',
  });
export const pingSchema = z.object({ ...base });
export const resumeSchema = z.object({
  ...base,
  token: z.string().min(1).max(512),
  lastSeq: seq.default(0),
  cid: z.string().min(1).max(64).optional(),
  /** Which reconnect of this client instance this is (1, 2, …). */
  attempt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Must be the token's device when given. */
  device: device.optional(),
});
export const typingSchema = z
  .object({
    ...base,
    to: id.optional(),
    groupid: id.optional(),
    state: z.enum(['start', 'stop']),
  })
  .refine((m) => (m.to === undefined) !== (m.groupid === undefined), {
    message: 'give exactly one of to, groupid',
  });
export const readSchema = z
  .object({ ...base, with: id.optional(), groupid: id.optional(), upTo: seq })
  .refine(oneConversation, oneConversationMessage);
export const readMarkersSchema = z
  .object({ ...base, with: id.optional(), groupid: id.optional() })
  .refine(oneConversation, oneConversationMessage);
export const conversationsSchema = z.object({
  ...base,
  before: seq.optional(),
  limit: z.number().int().min(1).max(100).default(20),
});
export const settingsSchema = z.object({ ...base, presence: z.enum(['hidden', 'visible']).optional() });
export const emptyQuerySchema = z.object({ ...base });
export const userLookupSchema = z.object({ ...base, name: z.string().min(1).max(200) });

/** Request ids whose handler needs a logged-in connection. */
export const NEEDS_LOGIN: ReadonlySet<number> = new Set([
  MsgId.LOGINOUT,
  MsgId.ONE_CHAT,
  MsgId.ADD_FRIEND,
  MsgId.CREATE_GROUP,
  MsgId.ADD_GROUP,
  MsgId.GROUP_CHAT,
  MsgId.SYNC,
  MsgId.INBOX_ACK,
  MsgId.HISTORY,
  MsgId.FRIEND_LIST,
  MsgId.GROUP_LIST,
  MsgId.USER_LOOKUP,
  MsgId.TYPING,
  MsgId.READ,
  MsgId.READ_MARKERS,
  MsgId.CONVERSATIONS,
  MsgId.SETTINGS,
]);

/** Turns zod issues into one short, safe sentence for the client. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
