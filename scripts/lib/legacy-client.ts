import { connect, type Socket } from 'node:net';

/** What the emulated client shows: a chat line, as its receive thread would print it. */
export interface ShownMessage {
  readonly msgid: number;
  readonly id: number;
  readonly name: string;
  readonly msg: string;
  readonly time: string;
  readonly toid?: number;
  readonly groupid?: number;
  /** Where it was shown from: the login ack's `offlinemsg`, or a chat frame. */
  readonly via: 'offline' | 'live';
}

/** How the emulated process ended, if it did: an abort (what the real client does on bad input) or exit. */
export type LegacyEnd =
  | { readonly kind: 'abort'; readonly reason: string }
  | { readonly kind: 'exit'; readonly reason: 'server closed' | 'quit' };

export interface LegacyLogin {
  readonly errno: number;
  readonly errmsg?: string;
  readonly friends: readonly { id: number; name: string; state: string }[];
  readonly groups: readonly {
    id: number;
    groupname: string;
    groupdesc: string;
    users: { id: number; name: string; state: string; role: string }[];
  }[];
}

export interface LegacyClientOptions {
  /** Time the receive thread spends on each read (printing) before its next recv(). @default 0 */
  readonly readDelayMs?: number;
  /** Abort (as a crash would) right after this many reads: a client made to fail on purpose. */
  readonly abortAfterReads?: number;
  /**
   * End requests with a newline instead of the original's NUL (tests only: the server then does not
   * know it talks to the ancestor's client, and does not pad its frames). @default '\0'
   */
  readonly terminator?: '\0' | '\n';
  /** Give up connecting after this long (the original blocks in connect(); a person gives up). @default none */
  readonly connectTimeoutMs?: number;
  /** Called with each message as it is shown (the drill's accounting). */
  readonly onShown?: (message: ShownMessage) => void;
  /** Called once, when the process ends (abort or exit). */
  readonly onEnd?: (end: LegacyEnd) => void;
  /** Called with each ERROR frame (msgid 11) — which the original ignores, so a test must watch them. */
  readonly onError?: (frame: Record<string, unknown>) => void;
}

const LOGIN_MSG = 1;
const LOGIN_MSG_ACK = 2;
const LOGINOUT_MSG = 3;
const REG_MSG = 4;
const REG_MSG_ACK = 5;
const ONE_CHAT_MSG = 6;
const ADD_FRIEND_MSG = 7;
const CREATE_GROUP_MSG = 8;
const ADD_GROUP_MSG = 9;
const GROUP_CHAT_MSG = 10;
const RECV_BUFFER = 1024;

/**
 * An emulator of the ancestor's C++ ChatClient (seed-systems.md §1.3, §2), strict where the original is
 * fragile: each socket read is one `recv(fd, buf, 1024)` into a zeroed buffer parsed (up to its first
 * NUL, as nlohmann's lexer stops there) as exactly one JSON document — a full read with no NUL, two
 * documents in one read, a document cut by a read, invalid UTF-8, or a field of the wrong type aborts the
 * whole process (here: the socket is destroyed and `end` says why). It sends
 * requests as the original does (alphabetical keys, a trailing NUL), never acks, and exits when the server
 * closes. `shown` is everything it printed, in order.
 */
export class LegacyClient {
  readonly shown: ShownMessage[] = [];
  end: LegacyEnd | undefined;
  /** recv() calls the original would have made. */
  reads = 0;
  private ackWaiter: ((reply: Record<string, unknown>) => void) | undefined;
  private watchers: (() => void)[] = [];
  private readonly readDelayMs: number;
  private readonly abortAfterReads: number;
  private readonly terminator: string;
  private readonly onShown: ((message: ShownMessage) => void) | undefined;
  private readonly onEnd: ((end: LegacyEnd) => void) | undefined;
  private readonly onError: ((frame: Record<string, unknown>) => void) | undefined;
  /** ERROR frames received (the original prints nothing for them). */
  errorFrames = 0;

  private constructor(
    private readonly socket: Socket,
    options: LegacyClientOptions,
  ) {
    this.onShown = options.onShown;
    this.onEnd = options.onEnd;
    this.onError = options.onError;
    this.readDelayMs = options.readDelayMs ?? 0;
    this.abortAfterReads = options.abortAfterReads ?? Infinity;
    this.terminator = options.terminator ?? '\0';
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => {});
    socket.once('close', () => this.finish({ kind: 'exit', reason: 'server closed' }));
  }

  static open(port: number, host = '127.0.0.1', options: LegacyClientOptions = {}): Promise<LegacyClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      const timer =
        options.connectTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              socket.destroy();
              reject(new Error(`connect timed out after ${options.connectTimeoutMs} ms`));
            }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new LegacyClient(socket, options));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  get alive(): boolean {
    return this.end === undefined;
  }

  /** Resolves with the user id, like the original's "name register success, userid is …". */
  async register(name: string, password: string): Promise<number> {
    const reply = await this.request({ msgid: REG_MSG, name, password });
    if (reply.errno !== 0) throw new Error(`register failed: errno ${String(reply.errno)}`);
    return reply.id as number;
  }

  /** LOGIN_MSG; resolves with the ack as the client read it (its offline messages are in `shown`). */
  async login(id: number, password: string): Promise<LegacyLogin> {
    const reply = await this.request({ id, msgid: LOGIN_MSG, password });
    return {
      errno: reply.errno as number,
      ...(typeof reply.errmsg === 'string' ? { errmsg: reply.errmsg } : {}),
      friends: ((reply.friends as string[] | undefined) ?? []).map(
        (f) => JSON.parse(f) as LegacyLogin['friends'][0],
      ),
      groups: ((reply.groups as string[] | undefined) ?? []).map((g) => {
        const group = JSON.parse(g) as Omit<LegacyLogin['groups'][0], 'users'> & { users: string[] };
        return {
          ...group,
          users: group.users.map((u) => JSON.parse(u) as LegacyLogin['groups'][0]['users'][0]),
        };
      }),
    };
  }

  /** `chat:toid:msg` */
  chat(myId: number, myName: string, toid: number, msg: string): void {
    this.send({ id: myId, msg, msgid: ONE_CHAT_MSG, name: myName, time: legacyTime(), toid });
  }

  /** `groupchat:groupid:msg` */
  groupChat(myId: number, myName: string, groupid: number, msg: string): void {
    this.send({ groupid, id: myId, msg, msgid: GROUP_CHAT_MSG, name: myName, time: legacyTime() });
  }

  addFriend(myId: number, friendid: number): void {
    this.send({ friendid, id: myId, msgid: ADD_FRIEND_MSG });
  }

  createGroup(myId: number, groupname: string, groupdesc: string): void {
    this.send({ groupdesc, groupname, id: myId, msgid: CREATE_GROUP_MSG });
  }

  addGroup(myId: number, groupid: number): void {
    this.send({ groupid, id: myId, msgid: ADD_GROUP_MSG });
  }

  /** `loginout`: back to the first menu; the socket stays open. */
  loginout(myId: number): void {
    this.send({ id: myId, msgid: LOGINOUT_MSG });
  }

  /** `quit`: close the socket and exit. */
  quit(): void {
    this.socket.end();
    this.finish({ kind: 'exit', reason: 'quit' });
  }

  /** The process dies with no goodbye (kill -9, a crash): the kernel resets the connection. */
  crash(): void {
    this.socket.resetAndDestroy();
    this.finish({ kind: 'abort', reason: 'crashed on purpose' });
  }

  /** Resolves once `shown` holds `count` messages or the process ended (then rejects). */
  async waitShown(count: number, timeoutMs = 10_000): Promise<void> {
    await this.waitFor(() => this.shown.length >= count, `${count} messages shown`, timeoutMs);
  }

  /** Resolves once every text in `texts` was shown (rejects if the process ends first). */
  async waitShownAll(texts: readonly string[], timeoutMs = 10_000): Promise<void> {
    const wanted = new Set(texts);
    await this.waitFor(
      () => this.shown.filter((m) => wanted.has(m.msg)).length >= wanted.size,
      `${wanted.size} particular messages shown`,
      timeoutMs,
    );
  }

  /** Resolves once the process ended. */
  async waitEnd(timeoutMs = 10_000): Promise<LegacyEnd> {
    await this.waitFor(() => this.end !== undefined, 'the process to end', timeoutMs, true);
    return this.end!;
  }

  private async waitFor(
    done: () => boolean,
    what: string,
    timeoutMs: number,
    endIsOk = false,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.end && !endIsOk)
        throw new Error(`legacy client ended (${describe(this.end)}) waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (shown ${this.shown.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.end) return Promise.reject(new Error(`legacy client ended (${describe(this.end)})`));
    // The original blocks on a semaphore the receive thread posts after LOGIN_MSG_ACK / REG_MSG_ACK.
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.ackWaiter = resolve;
      this.watchers.push(() => {
        if (this.end) reject(new Error(`legacy client ended (${describe(this.end)}) waiting for a reply`));
      });
    });
    this.send(frame);
    return reply;
  }

  /** As the original: `send(fd, json.dump().c_str(), strlen + 1)` — keys in alphabetical order, then NUL. */
  private send(frame: Record<string, unknown>): void {
    if (this.end) return;
    const sorted = Object.fromEntries(Object.entries(frame).sort(([a], [b]) => (a < b ? -1 : 1)));
    this.socket.write(`${JSON.stringify(sorted)}${this.terminator}`);
  }

  /**
   * Data as Node read it: the original would read the same bytes with `recv(fd, buf, 1024)` calls, each
   * returning what is there up to 1024 bytes, so the chunk is cut into such reads.
   */
  private onChunk(chunk: Buffer): void {
    for (let at = 0; at < chunk.length && !this.end; at += RECV_BUFFER) {
      this.onRead(chunk.subarray(at, Math.min(at + RECV_BUFFER, chunk.length)));
    }
    if (this.end) return;
    if (this.readDelayMs > 0) {
      // The receive thread prints before it calls recv() again; meanwhile the kernel buffers what arrives.
      this.socket.pause();
      setTimeout(() => this.socket.resume(), this.readDelayMs);
    }
    this.wake();
  }

  /** One recv(): parsed as nlohmann's `json::parse(buffer)` does — up to the first NUL, one document. */
  private onRead(read: Buffer): void {
    this.reads++;
    const nul = read.indexOf(0);
    if (nul === -1 && read.length >= RECV_BUFFER) {
      return this.abort(
        `a read of ${read.length} bytes with no NUL (the buffer holds 1023 and a terminator)`,
      );
    }
    const bytes = nul === -1 ? read : read.subarray(0, nul);
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) return this.abort('invalid UTF-8 in a read');
    let js: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      js = parsed as Record<string, unknown>;
    } catch {
      return this.abort(
        `a read that is not exactly one JSON document: ${JSON.stringify(text.slice(0, 120))}`,
      );
    }
    try {
      this.dispatch(js);
    } catch (error) {
      return this.abort(`json type error: ${(error as Error).message}`);
    }
    if (this.reads >= this.abortAfterReads) {
      this.socket.resetAndDestroy();
      this.finish({ kind: 'abort', reason: `made to abort after ${this.reads} reads` });
    }
  }

  /** The original's receive-thread switch; `get<T>()` on a wrong type throws, which aborts the process. */
  private dispatch(js: Record<string, unknown>): void {
    const msgid = getInt(js, 'msgid');
    if (msgid === ONE_CHAT_MSG || msgid === GROUP_CHAT_MSG) {
      this.show(chatLine(js, msgid, 'live'));
    } else if (msgid === LOGIN_MSG_ACK) {
      if (getInt(js, 'errno') === 0) this.readLoginAck(js);
      this.post(js);
    } else if (msgid === REG_MSG_ACK) {
      getInt(js, 'errno');
      this.post(js);
    }
    if (msgid === 11) {
      this.errorFrames++;
      this.onError?.(js);
    }
    // Anything else (errors, msgid 11, included) is ignored, as the original does.
  }

  /** doLoginResponse: every nested string is parsed again, with typed reads. */
  private readLoginAck(js: Record<string, unknown>): void {
    getInt(js, 'id');
    getString(js, 'name');
    for (const text of stringArray(js, 'friends')) {
      const friend = parseNested(text);
      getInt(friend, 'id');
      getString(friend, 'name');
      getString(friend, 'state');
    }
    for (const text of stringArray(js, 'groups')) {
      const group = parseNested(text);
      getInt(group, 'id');
      getString(group, 'groupname');
      getString(group, 'groupdesc');
      for (const member of stringArray(group, 'users')) {
        const user = parseNested(member);
        getInt(user, 'id');
        getString(user, 'name');
        getString(user, 'state');
        getString(user, 'role');
      }
    }
    for (const text of stringArray(js, 'offlinemsg')) {
      const message = parseNested(text);
      this.show(chatLine(message, getInt(message, 'msgid'), 'offline'));
    }
  }

  private show(line: ShownMessage): void {
    this.shown.push(line);
    this.onShown?.(line);
  }

  private post(reply: Record<string, unknown>): void {
    const waiter = this.ackWaiter;
    this.ackWaiter = undefined;
    waiter?.(reply);
  }

  private abort(reason: string): void {
    this.socket.destroy();
    this.finish({ kind: 'abort', reason });
  }

  private finish(end: LegacyEnd): void {
    if (this.end === undefined) {
      this.end = end;
      this.onEnd?.(end);
    }
    this.wake();
  }

  private wake(): void {
    for (const watcher of this.watchers.splice(0)) watcher();
  }
}

function chatLine(js: Record<string, unknown>, msgid: number, via: 'offline' | 'live'): ShownMessage {
  const line = {
    msgid,
    id: getInt(js, 'id'),
    name: getString(js, 'name'),
    msg: getString(js, 'msg'),
    time: getString(js, 'time'),
    via,
  };
  return msgid === GROUP_CHAT_MSG
    ? { ...line, groupid: getInt(js, 'groupid') }
    : { ...line, toid: getInt(js, 'toid') };
}

function getInt(js: Record<string, unknown>, key: string): number {
  const value = js[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`${key} is not an integer`);
  return value;
}

function getString(js: Record<string, unknown>, key: string): string {
  const value = js[key];
  if (typeof value !== 'string') throw new Error(`${key} is not a string`);
  return value;
}

function stringArray(js: Record<string, unknown>, key: string): string[] {
  const value = js[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`${key} is not a string array`);
  return value;
}

function parseNested(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('nested value is not an object');
  return parsed as Record<string, unknown>;
}

function describe(end: LegacyEnd): string {
  return `${end.kind}: ${end.reason}`;
}

/** The client clock as the original formats it: "YYYY-MM-DD HH:MM:SS". */
function legacyTime(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
