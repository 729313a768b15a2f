import type {
  AppendResult,
  DeviceCursor,
  DeviceId,
  HistoryQuery,
  InboxCursor,
  InboxEntry,
  MessageDraft,
  MessageStore,
  StoredMessage,
  Target,
  UserId,
} from '../service/ports.js';
import { storedMessage } from '../service/ports.js';
import { conversationKey } from '../service/conversation.js';
import type { MemoryGroupStore } from './memory-group-store.js';
import type { MemoryUserStore } from './memory-user-store.js';
import type { Clock } from '../util/clock.js';
import { evictOldest } from '../util/evict-oldest.js';

interface DeviceState {
  acked: number;
  epoch: number;
  /** When the device last opened a session or acked (clock ms); NEVER_ACTIVE for a device only logged out. */
  activeAt: number;
}

interface Inbox {
  /** Contiguous: entries[i].seq === firstSeq + i. Entries below the floor are trimmed from the front. */
  entries: InboxEntry[];
  firstSeq: number;
  /**
   * The lowest acked position among the devices active within the retention window, when last computed
   * (on an ack); never lower than before. Entries below it are gone for every reader (trimmed in bulk).
   */
  floor: number;
  last: number;
  readonly devices: Map<DeviceId, DeviceState>;
}

/** activeAt of a device that never opened a session (created by a logout): always outside the window. */
const NEVER_ACTIVE = Number.MIN_SAFE_INTEGER;

/** Remembered cmids per sender, for idempotent resends (oldest forgotten first). */
const CMIDS_PER_SENDER = 1000;
/** Entries below the floor kept before the front of an inbox is trimmed (trimming is amortised). */
const TRIM_SLACK = 1024;

export class MemoryMessageStore implements MessageStore {
  private readonly inboxes = new Map<UserId, Inbox>();
  private readonly conversations = new Map<string, StoredMessage[]>();
  private readonly cmids = new Map<UserId, Map<string, StoredMessage>>();
  private nextId = 1;

  constructor(
    private readonly users: MemoryUserStore,
    private readonly groups: MemoryGroupStore,
    private readonly clock: Clock,
    private readonly historyLimit: number,
    /** A device not seen for longer no longer holds back the floor (DEVICE_RETENTION_DAYS). */
    private readonly deviceRetentionMs: number,
  ) {}

  append(draft: MessageDraft, recipients: readonly UserId[]): Promise<AppendResult> {
    const seen = draft.cmid === null ? undefined : this.cmids.get(draft.senderId)?.get(draft.cmid);
    if (seen) return Promise.resolve({ message: seen, deliveries: [], duplicate: true });

    const message = storedMessage(
      draft,
      this.nextId++,
      this.users.nameOf(draft.senderId),
      draft.target.kind === 'group' ? this.groups.nameOf(draft.target.id) : undefined,
      this.clock.now(),
    );
    this.remember(message);
    const deliveries = recipients.map((userId) => {
      const inbox = this.inboxOf(userId);
      const seq = ++inbox.last;
      inbox.entries.push({ seq, message });
      return { userId, seq };
    });
    const conversation = this.conversationOf(message.senderId, message.target);
    conversation.push(message);
    if (conversation.length > this.historyLimit * 1.5)
      conversation.splice(0, conversation.length - this.historyLimit);
    return Promise.resolve({ message, deliveries, duplicate: false });
  }

  /** Entries after afterSeq, from the floor on (what the MySQL store keeps after pruning). */
  readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    const inbox = this.inboxes.get(userId);
    if (!inbox) return Promise.resolve([]);
    const start = Math.max(0, afterSeq + 1 - inbox.firstSeq, inbox.floor - inbox.firstSeq);
    return Promise.resolve(inbox.entries.slice(start, start + limit));
  }

  openDevice(userId: UserId, device: DeviceId): Promise<DeviceCursor> {
    const inbox = this.inboxOf(userId);
    const now = this.clock.now();
    const known = inbox.devices.get(device);
    const state = known ?? { acked: inbox.floor, epoch: 0, activeAt: now };
    // New (or only ever logged out), or missed pruned rows (away beyond the window while others acked):
    // starts at the floor. A device away that long which missed nothing continues where it was.
    const reset = !known || known.activeAt === NEVER_ACTIVE || state.acked < inbox.floor;
    state.acked = Math.max(state.acked, inbox.floor);
    state.activeAt = now;
    inbox.devices.set(device, state);
    return Promise.resolve({
      ackedSeq: state.acked,
      lastSeq: inbox.last,
      reset,
      epoch: state.epoch,
      activeDevices: this.activeDevices(inbox, now).length,
    });
  }

  cursor(userId: UserId, device: DeviceId): Promise<InboxCursor> {
    const inbox = this.inboxes.get(userId);
    if (!inbox) return Promise.resolve({ ackedSeq: 0, lastSeq: 0 });
    // A device without a session yet would start at the floor.
    return Promise.resolve({
      ackedSeq: inbox.devices.get(device)?.acked ?? inbox.floor,
      lastSeq: inbox.last,
    });
  }

  /** The ack of a device that never opened a session is ignored: devices join through openDevice. */
  ack(userId: UserId, device: DeviceId, seq: number): Promise<void> {
    const inbox = this.inboxes.get(userId);
    const state = inbox?.devices.get(device);
    if (!inbox || !state || state.activeAt === NEVER_ACTIVE) return Promise.resolve();
    const now = this.clock.now();
    state.acked = Math.max(state.acked, Math.min(seq, inbox.last));
    state.activeAt = now;
    // The acking device is active, so the minimum is over a non-empty set.
    const lowest = Math.min(...this.activeDevices(inbox, now).map((active) => active.acked));
    inbox.floor = Math.max(inbox.floor, lowest);
    const trimmable = inbox.floor - inbox.firstSeq;
    if (trimmable > TRIM_SLACK) {
      inbox.entries.splice(0, trimmable);
      inbox.firstSeq += trimmable;
    }
    return Promise.resolve();
  }

  bumpDeviceEpoch(userId: UserId, device: DeviceId): Promise<number> {
    const inbox = this.inboxOf(userId);
    let state = inbox.devices.get(device);
    if (!state) inbox.devices.set(device, (state = { acked: inbox.floor, epoch: 0, activeAt: NEVER_ACTIVE }));
    return Promise.resolve(++state.epoch);
  }

  history(query: HistoryQuery): Promise<StoredMessage[]> {
    const conversation = this.conversations.get(conversationKey(query.userId, query.target)) ?? [];
    const result: StoredMessage[] = [];
    for (let i = conversation.length - 1; i >= 0 && result.length < query.limit; i--) {
      const message = conversation[i]!;
      if (query.beforeId === undefined || message.id < query.beforeId) result.push(message);
    }
    return Promise.resolve(result);
  }

  private remember(message: StoredMessage): void {
    if (message.cmid === null) return;
    let mine = this.cmids.get(message.senderId);
    if (!mine) this.cmids.set(message.senderId, (mine = new Map<string, StoredMessage>()));
    mine.set(message.cmid, message);
    evictOldest(mine, CMIDS_PER_SENDER);
  }

  /** The newest stored message of a conversation (by conversationKey), if any: for the read store. */
  newestIn(key: string): StoredMessage | undefined {
    return this.conversations.get(key)?.at(-1);
  }

  /** A conversation's stored messages, oldest first (at most about historyLimit): for the read store. */
  messagesIn(key: string): readonly StoredMessage[] {
    return this.conversations.get(key) ?? [];
  }

  private activeDevices(inbox: Inbox, now: number): DeviceState[] {
    const cutoff = now - this.deviceRetentionMs;
    return [...inbox.devices.values()].filter((state) => state.activeAt > cutoff);
  }

  private inboxOf(userId: UserId): Inbox {
    let inbox = this.inboxes.get(userId);
    if (!inbox)
      this.inboxes.set(userId, (inbox = { entries: [], firstSeq: 1, floor: 0, last: 0, devices: new Map() }));
    return inbox;
  }

  private conversationOf(senderId: UserId, target: Target): StoredMessage[] {
    const key = conversationKey(senderId, target);
    let list = this.conversations.get(key);
    if (!list) this.conversations.set(key, (list = []));
    return list;
  }
}
