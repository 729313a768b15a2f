import type { InboxEntry, StoredMessage } from '../service/ports.js';
import type { GroupView, OnlineUser } from '../service/social-service.js';
import { v1Message } from './encode.js';
import { MsgId } from './msgids.js';

// Frames for the ancestor's C++ client, which reads one recv() into a 1024-byte buffer and parses it as
// exactly one JSON document: every frame written to a v1 connection must fit `maxBytes` (newline
// included), and text it prints must not contain line breaks a sender could use to forge lines.

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/u;
// eslint-disable-next-line no-control-regex
const CONTROLS_ALL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/gu;

/**
 * Control characters made visible: C0 (but TAB) and DEL become their Unicode Control Pictures (LF → ␊,
 * CR → ␍, ESC → ␛, DEL → ␡), C1 becomes U+FFFD. A v1 client prints `msg` verbatim, so a raw newline
 * would start a line that looks like another sender's message.
 */
export function visibleControls(text: string): string {
  if (!CONTROLS.test(text)) return text;
  return text.replace(CONTROLS_ALL, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : '\ufffd';
  });
}

/** Bytes of a value as JSON text (UTF-8). */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** A chat message as the ancestor forwarded it, with printable text. */
export function v1SafeMessage(message: StoredMessage): Record<string, unknown> {
  const out = v1Message(message);
  out.msg = visibleControls(message.body);
  out.name = visibleControls(message.senderName);
  out.time = visibleControls(message.clientTime);
  return out;
}

/**
 * One chat message as v1 frames (JSON text without the newline), each at most `maxBytes` with its
 * newline. A message too long for one frame is split into numbered parts, `(1/3) …`, in order; the text
 * is cut between code points, never inside one.
 */
export function v1MessageFrames(message: StoredMessage, maxBytes: number): string[] {
  const whole = v1SafeMessage(message);
  const text = whole.msg as string;
  const single = JSON.stringify(whole);
  if (Buffer.byteLength(single, 'utf8') + 1 <= maxBytes) return [single];
  const chars = [...text];
  // The part count decides the prefix width; a longer prefix may need more parts, so grow until stable.
  for (let guess = 2; ;) {
    const parts = splitText(chars, whole, guess, maxBytes);
    if (parts.length <= guess || String(parts.length).length === String(guess).length) {
      return parts.map((part, i) => JSON.stringify({ ...whole, msg: `(${i + 1}/${parts.length}) ${part}` }));
    }
    guess = parts.length;
  }
}

/** Cuts `chars` into pieces that fit a frame whose prefix is `(n/total) ` with `total` of guess's width. */
function splitText(
  chars: string[],
  frame: Record<string, unknown>,
  guess: number,
  maxBytes: number,
): string[] {
  const widest = `(${guess}/${guess}) `;
  // Everything but the text: the frame with an empty msg, the prefix, the newline.
  const budget = maxBytes - 1 - jsonBytes({ ...frame, msg: widest });
  if (budget < 16) throw new Error(`V1 frame budget too small for a message part (${maxBytes} bytes)`);
  const parts: string[] = [];
  let current = '';
  let used = 0;
  for (const c of chars) {
    // A character's cost inside a JSON string: its escaped UTF-8 length.
    const cost = jsonBytes(c) - 2;
    if (used + cost > budget && current.length > 0) {
      parts.push(current);
      current = '';
      used = 0;
    }
    current += c;
    used += cost;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** The v1 login ack, and how many of the offered offline entries it carries (the rest follow as frames). */
export interface V1LoginAck {
  readonly frame: string;
  readonly offlineIncluded: number;
}

/**
 * LOGIN_MSG_ACK for v1 within `maxBytes`: friends/groups/offlinemsg are arrays of JSON strings, present
 * only when non-empty, keys in the ancestor's (alphabetical) order. What does not fit is shortened
 * visibly: friends and groups beyond the room end in a marker entry (`{"id":0,"name":"(+12 more …)"}`),
 * a roster too long for its group ends in a marker member, and offline messages that do not fit are left
 * out — they follow as ordinary chat frames, in order.
 */
export function v1LoginAckFrame(
  user: { id: number; name: string },
  friends: readonly OnlineUser[],
  groups: readonly GroupView[],
  offline: readonly InboxEntry[],
  maxBytes: number,
): V1LoginAck {
  const base = { errno: 0, id: user.id, msgid: MsgId.LOGIN_ACK, name: visibleControls(user.name) };
  // Room for array elements: the frame budget less the base object, newline and the array keys' syntax.
  let room = maxBytes - 1 - jsonBytes(base) - 3 * ',"offlinemsg":[]'.length;
  const friendItems = fitList(
    friends.map((f) => JSON.stringify({ id: f.id, name: visibleControls(f.name), state: state(f.online) })),
    groups.length > 0 ? Math.floor(room / 2) : room,
    (rest) =>
      JSON.stringify({ id: 0, name: `(+${rest} more friends: use a newer client)`, state: 'offline' }),
  );
  room -= listBytes(friendItems);
  const groupItems = fitGroups(groups, room);
  room -= listBytes(groupItems);
  const offlineItems: string[] = [];
  for (const entry of offline) {
    const item = JSON.stringify(v1SafeMessage(entry.message));
    const cost = jsonBytes(item) + 1;
    if (cost > room) break;
    offlineItems.push(item);
    room -= cost;
  }
  const ack: Record<string, unknown> = { errno: 0 };
  if (friendItems.length > 0) ack.friends = friendItems;
  if (groupItems.length > 0) ack.groups = groupItems;
  ack.id = base.id;
  ack.msgid = base.msgid;
  ack.name = base.name;
  if (offlineItems.length > 0) ack.offlinemsg = offlineItems;
  return { frame: JSON.stringify(ack), offlineIncluded: offlineItems.length };
}

/** Bytes a list of JSON-string items takes inside the ack (escaped, with commas). */
function listBytes(items: readonly string[]): number {
  let total = 0;
  for (const item of items) total += jsonBytes(item) + 1;
  return total;
}

/**
 * The longest prefix of `items` that fits `room` bytes, ending in `marker(rest)` when some are left out
 * (the marker must fit too, so the prefix shrinks for it).
 */
function fitList(items: readonly string[], room: number, marker: (rest: number) => string): string[] {
  if (listBytes(items) <= room) return [...items];
  const out: string[] = [];
  let used = 0;
  for (const item of items) {
    const cost = jsonBytes(item) + 1;
    if (used + cost > room) break;
    out.push(item);
    used += cost;
  }
  while (out.length > 0 && used + jsonBytes(marker(items.length - out.length)) + 1 > room) {
    used -= jsonBytes(out.pop()) + 1;
  }
  const rest = items.length - out.length;
  if (used + jsonBytes(marker(rest)) + 1 <= room) out.push(marker(rest));
  return out;
}

/** Groups for the ack: each with as much of its roster as fits, then a marker group for the rest. */
function fitGroups(groups: readonly GroupView[], room: number): string[] {
  const out: string[] = [];
  let used = 0;
  // Keep room for a closing marker group whenever a group is still to come.
  const groupMarker = (rest: number): string =>
    JSON.stringify({
      groupdesc: '',
      groupname: `(+${rest} more groups: use a newer client)`,
      id: 0,
      users: [],
    });
  const markerCost = jsonBytes(groupMarker(groups.length)) + 1;
  for (const [index, group] of groups.entries()) {
    const last = index === groups.length - 1;
    const available = room - used - (last ? 0 : markerCost);
    const item = fitGroup(group, available);
    if (item === undefined) break;
    out.push(item);
    used += jsonBytes(item) + 1;
  }
  if (out.length < groups.length) out.push(groupMarker(groups.length - out.length));
  return out;
}

/** One group's ack string within `room` bytes (as escaped in the ack), its roster shortened if needed. */
function fitGroup(group: GroupView, room: number): string | undefined {
  const members = group.members.map((m) =>
    JSON.stringify({ id: m.id, name: visibleControls(m.name), role: m.role, state: state(m.online) }),
  );
  const build = (users: string[]): string =>
    JSON.stringify({
      groupdesc: visibleControls(group.desc),
      groupname: visibleControls(group.name),
      id: group.id,
      users,
    });
  const fits = (users: string[]): boolean => jsonBytes(build(users)) + 1 <= room;
  if (fits(members)) return build(members);
  const memberMarker = (rest: number): string =>
    JSON.stringify({ id: 0, name: `(+${rest} more members)`, role: 'normal', state: 'offline' });
  // The largest k whose prefix plus a marker fits (binary search: sizes grow with k).
  let low = 0;
  let high = members.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits([...members.slice(0, mid), memberMarker(members.length - mid)])) low = mid;
    else high = mid - 1;
  }
  const users = [...members.slice(0, low), memberMarker(members.length - low)];
  return fits(users) ? build(users) : undefined;
}

function state(online: boolean): 'online' | 'offline' {
  return online ? 'online' : 'offline';
}
