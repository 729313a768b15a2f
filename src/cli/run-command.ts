import type { ParleyClient } from '../client/parley-client.js';
import type { Command, Target } from './commands.js';
import { COMMAND_HELP } from './commands.js';
import {
  formatConversations,
  formatFriends,
  formatGroups,
  formatMessage,
  safe,
  type Paint,
} from './render.js';

/** What a command produced: lines for people, one event for scripts (`--json`). */
export interface Outcome {
  readonly lines: readonly string[];
  readonly event: Record<string, unknown>;
}

export function helpLines(): string[] {
  return [
    'show command list >>> ',
    ...COMMAND_HELP.map(([, syntax, meaning]) => `${syntax.padEnd(40)} : ${meaning}`),
  ];
}

const describe = (target: Target) => ('groupid' in target ? `group ${target.groupid}` : String(target.with));

/** Runs one chat command; request failures reject with the client's ClientError (code + message). */
export async function runCommand(client: ParleyClient, command: Command, paint: Paint): Promise<Outcome> {
  switch (command.kind) {
    case 'help':
      return { lines: helpLines(), event: { event: 'help' } };
    case 'chat': {
      const mid = await client.sendTo(command.to, command.text);
      return {
        lines: [paint.dim(`sent to ${command.to} (#${mid})`)],
        event: { event: 'sent', to: command.to, mid },
      };
    }
    case 'groupchat': {
      const mid = await client.sendToGroup(command.group, command.text);
      return {
        lines: [paint.dim(`sent to group ${command.group} (#${mid})`)],
        event: { event: 'sent', groupid: command.group, mid },
      };
    }
    case 'addfriend':
      await client.addFriend(command.friend);
      return {
        lines: [paint.green(`${command.friend} is now your friend`)],
        event: { event: 'friend-added', friendid: command.friend },
      };
    case 'creategroup': {
      const groupid = await client.createGroup(command.name, command.desc);
      return {
        lines: [paint.green(`group ${safe(command.name)} created, groupid is ${groupid}`)],
        event: { event: 'group-created', groupid, groupname: command.name },
      };
    }
    case 'addgroup':
      await client.joinGroup(command.group);
      return {
        lines: [paint.green(`joined group ${command.group}`)],
        event: { event: 'group-joined', groupid: command.group },
      };
    case 'friends': {
      const friends = await client.friends();
      return {
        lines: friends.length > 0 ? formatFriends(friends) : ['(no friends yet: addfriend:friendid)'],
        event: { event: 'friends', friends },
      };
    }
    case 'groups': {
      const groups = await client.groups();
      return {
        lines: groups.length > 0 ? formatGroups(groups) : ['(no groups yet: creategroup:name:desc)'],
        event: { event: 'groups', groups },
      };
    }
    case 'history': {
      const { messages, more } = await client.history(command.target, undefined, 20);
      const lines = [...messages].reverse().map((m) => formatMessage(m, paint));
      return {
        lines:
          lines.length > 0
            ? [...(more ? [paint.dim('… older messages not shown')] : []), ...lines]
            : ['(no messages yet)'],
        event: { event: 'history', messages, more },
      };
    }
    case 'whois': {
      const user = await client.whois(command.name);
      return {
        lines: [`${user.id} ${safe(user.name)} ${user.online ? 'online' : 'offline'}`],
        event: { event: 'user', ...user },
      };
    }
    case 'loginout':
      await client.logout({ everywhere: command.everywhere === true });
      return command.everywhere
        ? { lines: ['logged out on every device'], event: { event: 'logged-out', everywhere: true } }
        : { lines: ['logged out'], event: { event: 'logged-out' } };
    case 'conversations': {
      const { conversations, more } = await client.conversations({ limit: 20 });
      const me = client.user?.id ?? 0;
      return {
        lines:
          conversations.length > 0
            ? [
                ...formatConversations(conversations, me, paint),
                ...(more ? [paint.dim('… older conversations not shown')] : []),
              ]
            : ['(no conversations yet)'],
        event: { event: 'conversations', conversations, more },
      };
    }
    case 'read': {
      let upTo = command.upTo;
      if (upTo === undefined) {
        // Up to the newest message of the conversation.
        const newest = (await client.history(command.target, undefined, 1)).messages[0];
        if (newest === undefined)
          return { lines: ['(no messages yet)'], event: { event: 'read', ...command.target, upTo: 0 } };
        upTo = newest.mid;
      }
      const marked = await client.markRead(command.target, upTo);
      return {
        lines: [paint.dim(`${describe(command.target)} read up to #${marked.upTo}`)],
        event: { event: 'read', ...command.target, upTo: marked.upTo },
      };
    }
    case 'typing': {
      const sent = await client.typing(command.target, command.state);
      return {
        lines: [
          paint.dim(
            `typing ${command.state} ${sent ? 'sent' : 'not sent (throttled)'} to ${describe(command.target)}`,
          ),
        ],
        event: { event: 'typing-sent', ...command.target, state: command.state, sent },
      };
    }
    case 'presence': {
      const settings = await client.setPresence(command.presence);
      return {
        lines: [
          settings.presence === 'hidden'
            ? paint.yellow('your presence is hidden: friends see you offline (show: visible again)')
            : paint.green('your presence is visible to friends'),
        ],
        event: { event: 'settings', ...settings },
      };
    }
    case 'devices':
      return {
        lines: [
          `this device: ${client.device}`,
          'Log in on other devices at once (each installation is a device): every device gets every message,',
          'your own messages appear on all of them, and reads on one count everywhere.',
          'loginout logs out this device only; loginout:everywhere logs out every device.',
        ],
        event: { event: 'device', device: client.device },
      };
    case 'quit':
      return { lines: [], event: { event: 'quit' } };
    case 'wait':
    case 'sleep':
      // Handled by the script runner (they concern the stream of incoming messages, not the server).
      return { lines: [], event: { event: command.kind } };
  }
}
