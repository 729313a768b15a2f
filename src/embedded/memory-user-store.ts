import { AppError } from '../errors.js';
import type { UserId, UserRecord, UserStore, UserSummary } from '../service/ports.js';
import { nameKey } from '../service/text-rules.js';

export class MemoryUserStore implements UserStore {
  private readonly byId = new Map<UserId, UserRecord>();
  private readonly byName = new Map<string, UserId>();
  private nextId = 1;

  create(name: string, passwordHash: string): Promise<UserRecord> {
    const key = nameKey(name);
    if (this.byName.has(key)) return Promise.reject(new AppError('USER_EXISTS'));
    const user: UserRecord = {
      id: this.nextId++,
      name,
      passwordHash,
      sessionEpoch: 0,
      presenceHidden: false,
    };
    this.byId.set(user.id, user);
    this.byName.set(key, user.id);
    return Promise.resolve(user);
  }

  findById(id: UserId): Promise<UserRecord | undefined> {
    return Promise.resolve(this.byId.get(id));
  }

  findByName(name: string): Promise<UserRecord | undefined> {
    const id = this.byName.get(nameKey(name));
    return Promise.resolve(id === undefined ? undefined : this.byId.get(id));
  }

  findSummaries(ids: readonly UserId[]): Promise<UserSummary[]> {
    const found: UserSummary[] = [];
    for (const id of ids) {
      const user = this.byId.get(id);
      if (user) found.push({ id: user.id, name: user.name });
    }
    return Promise.resolve(found);
  }

  bumpSessionEpoch(id: UserId): Promise<number> {
    const user = this.byId.get(id);
    if (!user) return Promise.reject(new AppError('USER_NOT_FOUND'));
    const updated = { ...user, sessionEpoch: user.sessionEpoch + 1 };
    this.byId.set(id, updated);
    return Promise.resolve(updated.sessionEpoch);
  }

  setPresenceHidden(id: UserId, hidden: boolean): Promise<void> {
    const user = this.byId.get(id);
    if (!user) return Promise.reject(new AppError('USER_NOT_FOUND'));
    this.byId.set(id, { ...user, presenceHidden: hidden });
    return Promise.resolve();
  }

  /** Synchronous lookup for the other memory stores (names are denormalised into messages). */
  nameOf(id: UserId): string {
    return this.byId.get(id)?.name ?? '';
  }
}
