/**
 * The chat commands of the ancestor ChatClient (`chat:friendid:message`, …) plus Parley's additions.
 * The text before the first ':' is the command; the message text may contain further ':'.
 */
export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'chat'; readonly to: number; readonly text: string }
  | { readonly kind: 'addfriend'; readonly friend: number }
  | { readonly kind: 'creategroup'; readonly name: string; readonly desc: string }
  | { readonly kind: 'addgroup'; readonly group: number }
  | { readonly kind: 'groupchat'; readonly group: number; readonly text: string }
  | { readonly kind: 'loginout'; readonly everywhere?: boolean }
  | { readonly kind: 'conversations' }
  | { readonly kind: 'read'; readonly target: Target; readonly upTo?: number }
  | { readonly kind: 'typing'; readonly target: Target; readonly state: 'start' | 'stop' }
  | { readonly kind: 'presence'; readonly presence: 'hidden' | 'visible' }
  | { readonly kind: 'devices' }
  | { readonly kind: 'friends' }
  | { readonly kind: 'groups' }
  | { readonly kind: 'history'; readonly target: Target }
  | { readonly kind: 'whois'; readonly name: string }
  | { readonly kind: 'quit' }
  /** Scripting helpers: wait for N more incoming messages; pause. */
  | { readonly kind: 'wait'; readonly count: number }
  | { readonly kind: 'sleep'; readonly ms: number };

/** A conversation: with a user, or a group. */
export type Target = { readonly with: number } | { readonly groupid: number };

export type Parsed =
  { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly error: string };

/** Command names with their syntax and meaning, in the order `help` prints them. */
export const COMMAND_HELP: readonly (readonly [string, string, string])[] = [
  ['help', 'help', 'show this command list'],
  ['chat', 'chat:friendid:message', 'send a message to a user'],
  ['addfriend', 'addfriend:friendid', 'add a friend (both of you see each other)'],
  ['creategroup', 'creategroup:groupname:groupdesc', 'create a group'],
  ['addgroup', 'addgroup:groupid', 'join a group'],
  ['groupchat', 'groupchat:groupid:message', 'send a message to a group'],
  ['friends', 'friends', 'list your friends and who is online'],
  ['groups', 'groups', 'list your groups with their members'],
  ['history', 'history:friendid  or  history:g:groupid', 'show the last messages of a conversation'],
  ['whois', 'whois:name', 'look a user up by name'],
  ['conversations', 'conversations', 'your conversations, newest first, with unread counts'],
  [
    'read',
    'read:friendid  or  read:g:groupid',
    'mark a conversation read (shown messages are marked by themselves)',
  ],
  ['hide', 'hide', 'hide your presence: friends see you offline'],
  ['show', 'show', 'show your presence again'],
  ['devices', 'devices', 'this device; log in on several devices at once, each gets every message'],
  ['loginout', 'loginout  or  loginout:everywhere', 'log out (of every device) and return to the menu'],
  ['quit', 'quit', 'leave the client'],
];

export const COMMAND_NAMES: readonly string[] = [
  ...COMMAND_HELP.map(([name]) => name),
  'typing',
  'wait',
  'sleep',
];

const EXTRA_SYNTAX: Record<string, string> = {
  typing: 'typing:friendid[:start|stop]  or  typing:g:groupid[:start|stop]',
  read: 'read:friendid[:mid]  or  read:g:groupid[:mid]',
};

const syntaxOf = (name: string) => EXTRA_SYNTAX[name] ?? COMMAND_HELP.find(([n]) => n === name)?.[1] ?? name;
const bad = (name: string): Parsed => ({
  ok: false,
  error: `${name} command invalid! usage: ${syntaxOf(name)}`,
});

function id(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d{1,10}\s*$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 2_147_483_647 ? value : undefined;
}

/** Parses one input line; errors name the right syntax. */
export function parseCommand(line: string): Parsed {
  const trimmed = line.trim();
  const colon = trimmed.indexOf(':');
  const name = (colon === -1 ? trimmed : trimmed.slice(0, colon)).trim().toLowerCase();
  const rest = colon === -1 ? undefined : trimmed.slice(colon + 1);
  const split = (text: string | undefined): [string | undefined, string | undefined] => {
    if (text === undefined) return [undefined, undefined];
    const at = text.indexOf(':');
    return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
  };
  switch (name) {
    case 'help':
    case 'friends':
    case 'groups':
    case 'conversations':
    case 'devices':
    case 'quit':
      return { ok: true, command: { kind: name } };
    case 'loginout': {
      const where = rest?.trim().toLowerCase();
      if (where === undefined || where === '') return { ok: true, command: { kind: 'loginout' } };
      return where === 'everywhere'
        ? { ok: true, command: { kind: 'loginout', everywhere: true } }
        : bad(name);
    }
    case 'hide':
    case 'show':
      return rest === undefined || rest.trim() === ''
        ? { ok: true, command: { kind: 'presence', presence: name === 'hide' ? 'hidden' : 'visible' } }
        : bad(name);
    case 'read':
    case 'typing': {
      // friendid[:arg] or g:groupid[:arg]
      const [first, second] = split(rest);
      const group = first?.trim().toLowerCase() === 'g';
      const [idText, arg] = group ? split(second) : [first, second];
      const who = id(idText);
      if (who === undefined) return bad(name);
      const target: Target = group ? { groupid: who } : { with: who };
      if (name === 'read') {
        if (arg === undefined) return { ok: true, command: { kind: 'read', target } };
        const upTo = id(arg);
        return upTo === undefined ? bad(name) : { ok: true, command: { kind: 'read', target, upTo } };
      }
      const state = arg === undefined ? 'start' : arg.trim().toLowerCase();
      return state === 'start' || state === 'stop'
        ? { ok: true, command: { kind: 'typing', target, state } }
        : bad(name);
    }
    case 'chat':
    case 'groupchat': {
      const [target, text] = split(rest);
      const to = id(target);
      if (to === undefined || text === undefined || text.length === 0) return bad(name);
      return {
        ok: true,
        command: name === 'chat' ? { kind: 'chat', to, text } : { kind: 'groupchat', group: to, text },
      };
    }
    case 'addfriend':
    case 'addgroup': {
      const target = id(rest);
      if (target === undefined) return bad(name);
      return {
        ok: true,
        command:
          name === 'addfriend' ? { kind: 'addfriend', friend: target } : { kind: 'addgroup', group: target },
      };
    }
    case 'creategroup': {
      const [groupName, desc] = split(rest);
      if (!groupName?.trim()) return bad(name);
      return { ok: true, command: { kind: 'creategroup', name: groupName.trim(), desc: desc ?? '' } };
    }
    case 'history': {
      const [first, second] = split(rest);
      if (first?.trim().toLowerCase() === 'g') {
        const group = id(second);
        return group === undefined
          ? bad(name)
          : { ok: true, command: { kind: 'history', target: { groupid: group } } };
      }
      const user = id(first);
      return user === undefined || second !== undefined
        ? bad(name)
        : { ok: true, command: { kind: 'history', target: { with: user } } };
    }
    case 'whois':
      return rest?.trim() ? { ok: true, command: { kind: 'whois', name: rest.trim() } } : bad(name);
    case 'wait': {
      const count = id(rest);
      return count === undefined
        ? { ok: false, error: 'wait command invalid! usage: wait:count' }
        : { ok: true, command: { kind: 'wait', count } };
    }
    case 'sleep': {
      const ms = id(rest);
      return ms === undefined
        ? { ok: false, error: 'sleep command invalid! usage: sleep:milliseconds' }
        : { ok: true, command: { kind: 'sleep', ms } };
    }
    default:
      return { ok: false, error: `invalid input command! type help for the command list` };
  }
}

/**
 * The conversation a half-typed line is a message to (`chat:2:hel…`, `groupchat:5:x`), once some text
 * follows the target: typing there is worth telling the other side.
 */
export function typingTargetOf(line: string): Target | undefined {
  const match = /^\s*(chat|groupchat)\s*:\s*(\d{1,10})\s*:(.+)$/i.exec(line);
  if (!match || match[3]!.trim() === '') return undefined;
  const target = Number(match[2]);
  if (target < 1 || target > 2_147_483_647) return undefined;
  return match[1]!.toLowerCase() === 'chat' ? { with: target } : { groupid: target };
}
