import { AppError } from '../errors.js';
import type {
  ChatStore,
  GroupId,
  GroupMember,
  GroupSummary,
  Presence,
  UserId,
  UserSummary,
} from './ports.js';
import { checkGroupDesc, checkName } from './text-rules.js';

export interface OnlineUser extends UserSummary {
  readonly online: boolean;
  /** When the user's last device left; null while online, hidden or unknown. */
  readonly lastSeen: number | null;
}

export interface GroupView extends GroupSummary {
  readonly members: readonly (GroupMember & { readonly online: boolean })[];
}

/** Friends, groups and user lookup. Friendship is mutual; membership roles are creator/normal. */
export class SocialService {
  constructor(
    private readonly store: ChatStore,
    private readonly presence: Presence,
    /** Told about a new friendship (caches of who may type to whom). */
    private readonly onFriendsChanged: (a: UserId, b: UserId) => void = () => undefined,
  ) {}

  async addFriend(me: UserId, friendId: UserId): Promise<void> {
    if (me === friendId) throw new AppError('SELF_FRIEND');
    if (!(await this.store.users.findById(friendId))) throw new AppError('USER_NOT_FOUND');
    if (!(await this.store.friends.add(me, friendId))) throw new AppError('ALREADY_FRIENDS');
    this.onFriendsChanged(me, friendId);
  }

  async listFriends(me: UserId): Promise<OnlineUser[]> {
    const friends = await this.store.friends.list(me);
    const views = await this.presence.viewsOf(friends.map((f) => f.id));
    return friends.map((f) => {
      const view = views.get(f.id);
      return { ...f, online: view?.state === 'online', lastSeen: view?.lastSeen ?? null };
    });
  }

  async createGroup(me: UserId, name: string, desc: string): Promise<GroupSummary> {
    checkName(name, 'groupname');
    checkGroupDesc(desc);
    return this.store.groups.create(me, name, desc);
  }

  async joinGroup(me: UserId, groupId: GroupId): Promise<GroupSummary> {
    const group = await this.store.groups.find(groupId);
    if (!group) throw new AppError('GROUP_NOT_FOUND');
    if (!(await this.store.groups.addMember(groupId, me))) throw new AppError('ALREADY_MEMBER');
    return group;
  }

  async listGroups(me: UserId): Promise<GroupView[]> {
    const groups = await this.store.groups.listForUser(me);
    const ids = [...new Set(groups.flatMap((g) => g.members.map((m) => m.id)))];
    const online = await this.presence.onlineAmong(ids);
    return groups.map((g) => ({ ...g, members: g.members.map((m) => ({ ...m, online: online.has(m.id) })) }));
  }

  async lookupUser(name: string): Promise<OnlineUser> {
    const user = await this.store.users.findByName(name);
    if (!user) throw new AppError('USER_NOT_FOUND');
    const view = (await this.presence.viewsOf([user.id])).get(user.id);
    return {
      id: user.id,
      name: user.name,
      online: view?.state === 'online',
      lastSeen: null, // when they were last seen is for friends; anyone may look anyone up
    };
  }
}
