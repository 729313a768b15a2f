import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type {
  AppendResult,
  ChatStore,
  DeviceCursor,
  DeviceId,
  InboxCursor,
  InboxEntry,
  MessageBus,
  StoredMessage,
  Target,
  UserId,
} from './ports.js';
import { noTelemetry, stopwatch, type Telemetry } from './telemetry.js';
import { checkBody, formatLegacyTime, wellFormed } from './text-rules.js';
import type { Clock } from '../util/clock.js';
import { evictOldest } from '../util/evict-oldest.js';

/** User ids remembered as existing (a few MB at most). */
const KNOWN_USERS_MAX = 100_000;
/** Conversations remembered as listed (a few MB at most). */
const LISTED_PAIRS_MAX = 100_000;

export interface SendRequest {
  readonly senderId: UserId;
  readonly target: Target;
  readonly body: string;
  /** The old client's display time; the server's time when absent. */
  readonly clientTime?: string | undefined;
  readonly cmid?: string | undefined;
}

export interface SyncPage {
  readonly entries: InboxEntry[];
  readonly lastSeq: number;
  readonly ackedSeq: number;
}

/**
 * Sending, syncing and history. Durable before live: a message is in every recipient's inbox (one
 * store transaction) before the send resolves; the bus publish afterwards is only the fast path.
 */
export class MessageService {
  /** Counters for metrics: messages stored, and inbox entries written (fan-out). */
  readonly counts = { stored: 0, duplicates: 0, inboxEntries: 0 };
  private readonly knownUsers = new Set<UserId>();
  /** 1:1 conversations already listed for both sides by this process (see listPair). */
  private readonly listedPairs = new Set<string>();

  constructor(
    private readonly store: ChatStore,
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    private readonly limits: { readonly maxMessageChars: number; readonly pageSize: number },
    private readonly logger: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
    /** Whether the sender has several active devices: their send is then copied to their own inbox. */
    private readonly copiesOwnSends: (userId: UserId) => boolean = () => false,
  ) {}

  async send(request: SendRequest): Promise<AppendResult> {
    const body = checkBody(request.body, this.limits.maxMessageChars);
    const recipients = await this.recipientsOf(request.senderId, request.target);
    // A message to oneself is in one's inbox once already.
    if (this.copiesOwnSends(request.senderId) && !recipients.includes(request.senderId))
      recipients.push(request.senderId);
    const elapsed = stopwatch();
    const result = await this.store.messages.append(
      {
        senderId: request.senderId,
        target: request.target,
        body,
        clientTime:
          request.clientTime === undefined
            ? formatLegacyTime(this.clock.now())
            : wellFormed(request.clientTime),
        cmid: request.cmid === undefined ? null : wellFormed(request.cmid),
      },
      recipients,
    );
    this.telemetry.messageAppended(elapsed());
    if (result.duplicate && !sameSend(result.message, request.target, body)) {
      // (sender, cmid) is the send's identity: a reuse for another text or target must not be answered
      // "duplicate" (the client would think its new message was stored).
      throw new AppError('CMID_CONFLICT');
    }
    if (!result.duplicate && request.target.kind === 'user')
      this.listPair(request.senderId, request.target.id);
    if (result.duplicate) this.counts.duplicates++;
    else this.counts.stored++;
    this.counts.inboxEntries += result.deliveries.length;
    if (result.deliveries.length > 0) this.publish(result);
    // A resend of a stored message: the first attempt may have committed on a node that died (or was cut
    // off) before it published, so poke the recipients to catch up from their inboxes. Cheap, and rare.
    else if (result.duplicate) this.poke(recipients);
    return result;
  }

  /** Registers the device for a session and returns its position (MessageStore.openDevice). */
  openDevice(userId: UserId, device: DeviceId): Promise<DeviceCursor> {
    return this.store.messages.openDevice(userId, device);
  }

  cursor(userId: UserId, device: DeviceId): Promise<InboxCursor> {
    return this.store.messages.cursor(userId, device);
  }

  /** Acknowledges everything up to `seq` without a live session (explicit INBOX_ACK on any connection). */
  ack(userId: UserId, device: DeviceId, seq: number): Promise<void> {
    return this.store.messages.ack(userId, device, seq);
  }

  /** A page of the inbox after `afterSeq`, with the device's acked position. */
  async sync(userId: UserId, device: DeviceId, afterSeq: number, limit: number): Promise<SyncPage> {
    const [entries, cursor] = await Promise.all([
      this.store.messages.readInbox(userId, afterSeq, Math.min(limit, this.limits.pageSize)),
      this.store.messages.cursor(userId, device),
    ]);
    return { entries, lastSeq: cursor.lastSeq, ackedSeq: cursor.ackedSeq };
  }

  async history(
    userId: UserId,
    target: Target,
    beforeId: number | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    if (target.kind === 'group') {
      if (!(await this.store.groups.find(target.id))) throw new AppError('GROUP_NOT_FOUND');
      if (!(await this.store.groups.isMember(target.id, userId))) throw new AppError('NOT_MEMBER');
    } else if (!(await this.store.users.findById(target.id))) {
      throw new AppError('USER_NOT_FOUND');
    }
    return this.store.messages.history({
      userId,
      target,
      beforeId,
      limit: Math.min(limit, this.limits.pageSize),
    });
  }

  private async recipientsOf(senderId: UserId, target: Target): Promise<UserId[]> {
    if (target.kind === 'user') {
      if (!(await this.userExists(target.id))) throw new AppError('USER_NOT_FOUND');
      return [target.id];
    }
    // One query in the common case; the group lookup only tells a missing group from a non-member.
    const members = await this.store.groups.memberIds(target.id);
    if (!members.includes(senderId)) {
      throw new AppError((await this.store.groups.find(target.id)) ? 'NOT_MEMBER' : 'GROUP_NOT_FOUND');
    }
    return members.filter((id) => id !== senderId);
  }

  /** Users are never deleted, so a positive answer is cached (bounded); misses always ask the store. */
  private async userExists(id: UserId): Promise<boolean> {
    if (this.knownUsers.has(id)) return true;
    if (!(await this.store.users.findById(id))) return false;
    this.knownUsers.add(id);
    evictOldest(this.knownUsers, KNOWN_USERS_MAX);
    return true;
  }

  /**
   * Lists a 1:1 conversation for both sides (so a conversation with a non-friend shows in their lists):
   * once per pair per process — after that, a send costs nothing extra. Best effort: the message is stored.
   */
  private listPair(a: UserId, b: UserId): void {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    if (this.listedPairs.has(key)) return;
    this.listedPairs.add(key);
    evictOldest(this.listedPairs, LISTED_PAIRS_MAX);
    this.store.reads.listPair(a, b).catch((error: unknown) => {
      this.listedPairs.delete(key);
      this.logger.warn({ err: error }, 'listing a conversation failed; the next send retries');
    });
  }

  private poke(userIds: readonly UserId[]): void {
    this.bus
      .publish(userIds.map((userId) => ({ type: 'sync' as const, userId })))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'bus publish failed'));
  }

  private publish(result: AppendResult): void {
    const events = result.deliveries.map((d) => ({
      type: 'deliver' as const,
      userId: d.userId,
      seq: d.seq,
      message: result.message,
    }));
    // Fire and forget: the inboxes already hold the message; a lost publish is repaired by catch-up.
    this.bus
      .publish(events)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'bus publish failed'));
  }
}

/** Whether a stored message is the same send as a request with that target and (checked) body. */
function sameSend(stored: StoredMessage, target: Target, body: string): boolean {
  return stored.target.kind === target.kind && stored.target.id === target.id && stored.body === body;
}
