import type { ChatMessage, FriendInfo, GroupInfo, HistoryMessage } from '../client/parley-client.js';

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

export function formatFriends(friends: readonly FriendInfo[]): string[] {
  return friends.map((f) => `${f.id} ${safe(f.name)} ${f.online ? 'online' : 'offline'}`);
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
