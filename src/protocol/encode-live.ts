import type { BusEvent, ConversationSummary, PresenceView, Target } from '../service/ports.js';
import { v2Message } from './encode.js';
import { MsgId } from './msgids.js';

/** How long a typing `start` holds on the receiving side without a refresh. */
export const TYPING_EXPIRES_MS = 6000;

/** A conversation as v2 frames name it: `with` (the peer) or `groupid`. */
export function targetFields(target: Target): { with: number } | { groupid: number } {
  return target.kind === 'user' ? { with: target.id } : { groupid: target.id };
}

/** PRESENCE: a friend's visible state changed. */
export function presenceFrame(subject: number, view: PresenceView): Record<string, unknown> {
  return { msgid: MsgId.PRESENCE, id: subject, state: view.state, lastSeen: view.lastSeen };
}

/** TYPING as the recipient gets it: `to` is the recipient themself for 1:1, else the group. */
export function typingFrame(event: Extract<BusEvent, { type: 'typing' }>): Record<string, unknown> {
  const where = event.target.kind === 'user' ? { to: event.target.id } : { groupid: event.target.id };
  const frame: Record<string, unknown> = {
    msgid: MsgId.TYPING,
    from: event.from,
    ...where,
    state: event.state,
  };
  if (event.state === 'start') frame.expiresInMs = TYPING_EXPIRES_MS;
  return frame;
}

/** READ pushed: a marker of the reader moved (the user's own other device, or a 1:1 peer's receipt). */
export function readFrame(event: Extract<BusEvent, { type: 'read' }>): Record<string, unknown> {
  return { msgid: MsgId.READ, reader: event.reader, ...targetFields(event.target), upTo: event.upTo };
}

/** One row of CONVERSATIONS_ACK. */
export function conversationView(item: ConversationSummary): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ...targetFields(item.target),
    name: item.name,
    last: v2Message(item.last),
    readUpTo: item.readUpTo,
    unread: item.unread,
  };
  if (item.peerReadUpTo !== undefined) view.peerReadUpTo = item.peerReadUpTo;
  return view;
}
