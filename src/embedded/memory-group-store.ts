import { AppError } from '../errors.js';
import type {
  GroupId,
  GroupRole,
  GroupStore,
  GroupSummary,
  GroupWithMembers,
  UserId,
} from '../service/ports.js';
import { nameKey } from '../service/text-rules.js';
import type { MemoryUserStore } from './memory-user-store.js';

interface GroupState extends GroupSummary {
  /** Insertion-ordered: the creator first, then members in joining order. */
  readonly members: Map<UserId, GroupRole>;
}

export class MemoryGroupStore implements GroupStore {
  private readonly groups = new Map<GroupId, GroupState>();
  private readonly byName = new Set<string>();
  private readonly byUser = new Map<UserId, Set<GroupId>>();
  private nextId = 1;

  constructor(private readonly users: MemoryUserStore) {}

  create(creatorId: UserId, name: string, desc: string): Promise<GroupSummary> {
    const key = nameKey(name);
    if (this.byName.has(key)) return Promise.reject(new AppError('GROUP_EXISTS'));
    this.byName.add(key);
    const group: GroupState = { id: this.nextId++, name, desc, members: new Map([[creatorId, 'creator']]) };
    this.groups.set(group.id, group);
    this.groupsOf(creatorId).add(group.id);
    return Promise.resolve({ id: group.id, name, desc });
  }

  find(id: GroupId): Promise<GroupSummary | undefined> {
    const group = this.groups.get(id);
    return Promise.resolve(group && { id: group.id, name: group.name, desc: group.desc });
  }

  addMember(groupId: GroupId, userId: UserId): Promise<boolean> {
    const group = this.groups.get(groupId);
    if (!group) return Promise.reject(new AppError('GROUP_NOT_FOUND'));
    if (group.members.has(userId)) return Promise.resolve(false);
    group.members.set(userId, 'normal');
    this.groupsOf(userId).add(groupId);
    return Promise.resolve(true);
  }

  isMember(groupId: GroupId, userId: UserId): Promise<boolean> {
    return Promise.resolve(this.groups.get(groupId)?.members.has(userId) ?? false);
  }

  memberIds(groupId: GroupId): Promise<UserId[]> {
    return Promise.resolve([...(this.groups.get(groupId)?.members.keys() ?? [])]);
  }

  listForUser(userId: UserId): Promise<GroupWithMembers[]> {
    const ids = [...(this.byUser.get(userId) ?? [])].sort((a, b) => a - b);
    return Promise.resolve(
      ids.flatMap((id) => {
        const group = this.groups.get(id);
        if (!group) return [];
        const members = [...group.members].map(([memberId, role]) => ({
          id: memberId,
          name: this.users.nameOf(memberId),
          role,
        }));
        return [{ id: group.id, name: group.name, desc: group.desc, members }];
      }),
    );
  }

  /** Synchronous: the ids of the user's groups (for the read store's conversation list). */
  idsFor(userId: UserId): readonly GroupId[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /** Synchronous membership check (for the read store's markers). */
  hasMember(groupId: GroupId, userId: UserId): boolean {
    return this.groups.get(groupId)?.members.has(userId) ?? false;
  }

  nameOf(id: GroupId): string {
    return this.groups.get(id)?.name ?? '';
  }

  private groupsOf(userId: UserId): Set<GroupId> {
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    return set;
  }
}
