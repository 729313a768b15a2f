import type {
  ChatMessage,
  ConversationSummary,
  FriendInfo,
  GroupInfo,
  HistoryMessage,
  Presence,
} from '../client/parley-client.js';

/** ANSI colour, only when the terminal supports it and NO_COLOR is not set (https://no-color.org). */
export function makePaint(enabled: boolean) {
  const wrap = (code: number) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    dim: wrap(2),
    bold: wrap(1),
    green: wrap(32),
    yellow: wrap(33),
    cyan: wrap(36),
    red: wrap(31),
    magenta: wrap(35),
  };
}

export type Paint = ReturnType<typeof makePaint>;

/** Replaces control characters (all but TAB) so text cannot break a line, move the cursor or recolour. */
export function safe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '�');
}

/** Indentation of a message's text: a sender's text never starts a line, so it cannot pose as a header. */
const TEXT_INDENT = '    ';

/**
 * The ancestor's header, `<time> [<id>]<name> said:` (group messages prefixed with the group), then the
 * text on its own indented line(s). An old client's message may carry line breaks; each becomes another
 * indented line, so nothing a sender types can look like another sender's message.
 */
export function formatMessage(message: ChatMessage | HistoryMessage, paint: Paint): string {
  const who = `${paint.cyan(`[${message.from.id}]`)}${paint.bold(safe(message.from.name))}`;
  const time = paint.dim(safe(message.time));
  const text = message.msg
    .split(/\r\n|\r|\n/)
    .map((line) => `${TEXT_INDENT}${safe(line)}`)
    .join('\n');
  if (message.groupid !== undefined) {
    const group = paint.magenta(
      `群消息[${message.groupid}]${message.groupname ? ` ${safe(message.groupname)}` : ''}`,
    );
    return `${group}:${time} ${who} said:\n${text}`;
  }
  return `${time} ${who} said:\n${text}`;
}

export function formatFriends(friends: readonly FriendInfo[], now: number = Date.now()): string[] {
  return friends.map((f) => {
    const online = f.state === undefined ? f.online : f.state === 'online';
    const seen =
      !online && typeof f.lastSeen === 'number' ? ` (last seen ${clockTime(f.lastSeen, now)})` : '';
    return `${f.id} ${safe(f.name)} ${online ? 'online' : 'offline'}${seen}`;
  });
}

/** `14:02` today, `2026-11-26 14:02` on another day (local time). */
export function clockTime(ms: number, now: number = Date.now()): string {
  const at = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  if (at.toDateString() === new Date(now).toDateString()) return time;
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

/** `bob is online` / `bob went offline (last seen 14:02)`. */
export function formatPresence(
  name: string,
  presence: Presence,
  paint: Paint,
  now: number = Date.now(),
): string {
  if (presence.state === 'online') return paint.green(`${safe(name)} is online`);
  const seen = presence.lastSeen === null ? '' : ` (last seen ${clockTime(presence.lastSeen, now)})`;
  return paint.dim(`${safe(name)} went offline${seen}`);
}

/** The hint shown while people type: `bob is typing…`, `bob and carol are typing…`, `4 people are typing…`. */
export function typingHint(names: readonly string[]): string {
  const shown = names.map(safe);
  if (shown.length === 0) return '';
  if (shown.length === 1) return `${shown[0]} is typing…`;
  if (shown.length <= 3) return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)} are typing…`;
  return `${shown.length} people are typing…`;
}

/** A message this user sent from another device: `you (other device) → bob: text`. */
export function formatOwnMessage(message: ChatMessage, peer: string, paint: Paint): string {
  const lines = message.msg.split(/\r\n|\r|\n/).map(safe);
  const to =
    message.groupid !== undefined
      ? paint.magenta(`group ${message.groupid}${message.groupname ? ` ${safe(message.groupname)}` : ''}`)
      : paint.bold(safe(peer));
  const head = `${paint.dim(safe(message.time))} you (other device) → ${to}: ${lines[0] ?? ''}`;
  return [head, ...lines.slice(1).map((line) => `${TEXT_INDENT}${line}`)].join('\n');
}

/** The conversation list: target, name, unread count, and the last message. */
export function formatConversations(
  conversations: readonly ConversationSummary[],
  me: number,
  paint: Paint,
  now: number = Date.now(),
): string[] {
  return conversations.map((c) => {
    const where = 'groupid' in c.target ? `g:${c.target.groupid}` : String(c.target.with);
    const unread = c.unread > 0 ? paint.yellow(`${c.unread >= 999 ? '999+' : c.unread} unread`) : 'read';
    const last = c.last
      ? ` ${paint.dim(clockTime(c.last.ts, now))} ${c.last.from.id === me ? 'you' : safe(c.last.from.name)}: ${oneLine(c.last.msg, 60)}`
      : '';
    return `${where.padEnd(8)} ${paint.bold(safe(c.name))}  ${unread}${last}`;
  });
}

/** A message's text on one line, shortened to `max` characters. */
function oneLine(text: string, max: number): string {
  const flat = safe(text.replace(/\s+/g, ' '));
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function formatGroups(groups: readonly GroupInfo[]): string[] {
  return groups.flatMap((g) => [
    `${g.id} ${safe(g.groupname)} ${safe(g.groupdesc)}`,
    ...g.users.map((u) => `    ${u.id} ${safe(u.name)} ${u.online ? 'online' : 'offline'} ${u.role}`),
  ]);
}

/** The ancestor's post-login banner, then friends and groups. */
export function loginBanner(
  user: { id: number; name: string },
  friends: readonly FriendInfo[],
  groups: readonly GroupInfo[],
): string[] {
  return [
    '======================login user======================',
    `current login user => id:${user.id} name:${safe(user.name)}`,
    '----------------------friend list---------------------',
    ...formatFriends(friends),
    '----------------------group list----------------------',
    ...formatGroups(groups),
    '======================================================',
  ];
}
