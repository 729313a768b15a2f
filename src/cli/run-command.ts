import type { ParleyClient } from '../client/parley-client.js';
import type { Command } from './commands.js';
import { COMMAND_HELP } from './commands.js';
import { formatFriends, formatGroups, formatMessage, safe, type Paint } from './render.js';

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
      await client.logout();
      return { lines: ['logged out'], event: { event: 'logged-out' } };
    case 'quit':
      return { lines: [], event: { event: 'quit' } };
    case 'wait':
    case 'sleep':
      // Handled by the script runner (they concern the stream of incoming messages, not the server).
      return { lines: [], event: { event: command.kind } };
  }
}
