/**
 * Message ids. 1–10 are the ancestor course server's (public.hpp), unchanged so its clients work;
 * 11 and up are protocol v2 additions. Replies to new requests use the request's id + 1.
 */
export const MsgId = {
  LOGIN: 1,
  LOGIN_ACK: 2,
  LOGINOUT: 3,
  REG: 4,
  REG_ACK: 5,
  ONE_CHAT: 6,
  ADD_FRIEND: 7,
  CREATE_GROUP: 8,
  ADD_GROUP: 9,
  GROUP_CHAT: 10,
  /** Server → client: a request failed. */
  ERROR: 11,
  /** Server → client: a request without a reply type of its own succeeded. */
  ACK: 12,
  SYNC: 13,
  SYNC_ACK: 14,
  /** Client → server: everything up to `seq` was processed. */
  INBOX_ACK: 15,
  HISTORY: 16,
  HISTORY_ACK: 17,
  PING: 18,
  PONG: 19,
  RESUME: 20,
  RESUME_ACK: 21,
  /** Server → client: this account logged in elsewhere; the connection closes. */
  KICKED: 22,
  FRIEND_LIST: 23,
  FRIEND_LIST_ACK: 24,
  GROUP_LIST: 25,
  GROUP_LIST_ACK: 26,
  USER_LOOKUP: 27,
  USER_LOOKUP_ACK: 28,
  /** Server → client: the server is draining; reconnect (the load balancer picks another node). */
  SERVER_NOTICE: 29,
  /** Server → client: a friend came online or went offline. */
  PRESENCE: 30,
  /** Both ways: typing to a friend or in a group (never stored). */
  TYPING: 31,
  /** Client → server: mark a conversation read; server → client: a read marker moved (own device or receipt). */
  READ: 32,
  READ_MARKERS: 33,
  READ_MARKERS_ACK: 34,
  CONVERSATIONS: 35,
  CONVERSATIONS_ACK: 36,
  SETTINGS: 37,
  SETTINGS_ACK: 38,
} as const;

export type MsgIdValue = (typeof MsgId)[keyof typeof MsgId];
