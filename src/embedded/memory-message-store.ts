import type {
  AppendResult,
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

interface Inbox {
  /** Contiguous: entries[i].seq === firstSeq + i. Acked entries are trimmed from the front. */
  entries: InboxEntry[];
  firstSeq: number;
  acked: number;
  last: number;
}

/** Remembered cmids per sender, for idempotent resends (oldest forgotten first). */
const CMIDS_PER_SENDER = 1000;
/** Acked entries kept before the front of an inbox is trimmed (trimming is amortised). */
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

  readInbox(userId: UserId, afterSeq: number, limit: number): Promise<InboxEntry[]> {
    const inbox = this.inboxes.get(userId);
    if (!inbox) return Promise.resolve([]);
    const start = Math.max(0, afterSeq + 1 - inbox.firstSeq);
    return Promise.resolve(inbox.entries.slice(start, start + limit));
  }

  cursor(userId: UserId): Promise<InboxCursor> {
    const inbox = this.inboxes.get(userId);
    return Promise.resolve({ ackedSeq: inbox?.acked ?? 0, lastSeq: inbox?.last ?? 0 });
  }

  ack(userId: UserId, seq: number): Promise<void> {
    const inbox = this.inboxes.get(userId);
    if (!inbox) return Promise.resolve();
    inbox.acked = Math.max(inbox.acked, Math.min(seq, inbox.last));
    const trimmable = inbox.acked - inbox.firstSeq + 1;
    if (trimmable > TRIM_SLACK) {
      inbox.entries.splice(0, trimmable);
      inbox.firstSeq += trimmable;
    }
    return Promise.resolve();
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

  private inboxOf(userId: UserId): Inbox {
    let inbox = this.inboxes.get(userId);
    if (!inbox) this.inboxes.set(userId, (inbox = { entries: [], firstSeq: 1, acked: 0, last: 0 }));
    return inbox;
  }

  private conversationOf(senderId: UserId, target: Target): StoredMessage[] {
    const key = conversationKey(senderId, target);
    let list = this.conversations.get(key);
    if (!list) this.conversations.set(key, (list = []));
    return list;
  }
}
