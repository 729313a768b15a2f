import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import {
  ClientError,
  conversationOf,
  ParleyClient,
  type ChatMessage,
  type Conversation,
  type HistoryMessage,
} from '../client/parley-client.js';
import { COMMAND_HELP, parseCommand, typingTargetOf } from './commands.js';
import { connectFailure, deviceOf, endpointOf, identity, type CliOptions } from './options.js';
import {
  formatMessage,
  formatOwnMessage,
  formatPresence,
  loginBanner,
  makePaint,
  typingHint,
  type Paint,
} from './render.js';
import { helpLines, runCommand } from './run-command.js';

/** Shown messages are marked read after this pause, once per burst and conversation. */
const READ_COALESCE_MS = 500;

const keyOf = (target: Conversation) => ('groupid' in target ? `g:${target.groupid}` : `u:${target.with}`);

const MENU = ['========================', '1. login', '2. register', '3. quit', '========================'];

/** Command names for Tab completion; those that take arguments complete with their ':'. */
function completer(line: string): [string[], string] {
  const names = COMMAND_HELP.map(([name, syntax]) => (syntax.includes(':') ? `${name}:` : name));
  const hits = names.filter((name) => name.startsWith(line.trim().toLowerCase()));
  return [hits.length > 0 ? hits : names, line];
}

/**
 * The interactive client: the ancestor's menu and commands, with incoming messages printed above the line
 * being typed, Tab completion, history, colour, and transparent reconnect + resume after failover.
 */
export class InteractiveClient {
  private readonly rl: Interface;
  private readonly paint: Paint;
  private client: ParleyClient | undefined;
  private muted = false;
  private inChat = false;
  private closed = false;
  /** The question on screen, if any: its prompt, and how to withdraw it. */
  private asking: { readonly prompt: string; readonly cancel: () => void } | undefined;
  /** Messages held back while logging in, so they print after the login banner. */
  private held: string[] | undefined;
  /** Names of friends and group members (ids → names), for presence and typing lines. */
  private readonly names = new Map<number, string>();
  /** Who is typing where, for the hint in front of the chat prompt. */
  private readonly typing = new Map<string, { target: Conversation; typers: readonly number[] }>();
  /** The conversation this user's half-typed line is a message to (typing was sent there). */
  private composingTo: Conversation | undefined;
  /** Read markers waiting to be sent (coalesced), per conversation. */
  private readonly unsentReads = new Map<string, { target: Conversation; upTo: number }>();
  private readTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: CliOptions,
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
  ) {
    this.paint = makePaint(Boolean(output.isTTY) && !process.env.NO_COLOR && output.hasColors?.() !== false);
    this.rl = createInterface({ input, output, completer, historySize: 500, terminal: true });
    // Password entry: show nothing of what is typed.
    const rlWithOutput = this.rl as unknown as { _writeToOutput: (text: string) => void };
    const write = rlWithOutput._writeToOutput.bind(this.rl);
    rlWithOutput._writeToOutput = (text: string) => {
      if (!this.muted || text.includes('\n') || text.includes('\r')) write(this.muted ? '\n' : text);
    };
    this.rl.on('SIGINT', () => this.quit(0));
    this.rl.on('close', () => this.quit(0));
    // readline has already applied the key when this runs (its listener came first): rl.line is current.
    input.on('keypress', () => this.onKeypress());
  }

  async run(): Promise<number> {
    try {
      await this.connect();
    } catch (error) {
      this.say(this.paint.red(connectFailure(this.options, error)));
      this.rl.close();
      return 1;
    }
    while (!this.closed) {
      for (const line of MENU) this.say(line);
      const choice = (await this.ask('choice:')).trim();
      if (choice === '1') await this.login();
      else if (choice === '2') await this.register();
      else if (choice === '3') return this.quit(0);
      else this.say('invalid input!');
    }
    return 0;
  }

  private async connect(): Promise<void> {
    const client = new ParleyClient({ ...endpointOf(this.options), ...deviceOf(this.options) });
    client.on('message', (message: ChatMessage) => {
      // Sent from this terminal: already shown as `sent to …`.
      if (message.echoOfOwnSend) return;
      const text = message.own
        ? formatOwnMessage(message, this.nameOf(message.toid), this.paint)
        : formatMessage(message, this.paint);
      if (this.held) this.held.push(text);
      else this.printAbove(text);
      this.shown(client, message);
    });
    client.on('presence', (presence) => {
      if (client.user && this.inChat)
        this.printAbove(formatPresence(this.nameOf(presence.id), presence, this.paint));
    });
    client.on('typingChanged', ({ target, typers }) => {
      if (typers.length === 0) this.typing.delete(keyOf(target));
      else this.typing.set(keyOf(target), { target, typers });
      this.redrawPrompt();
    });
    client.on('disconnected', () => this.printAbove(this.paint.yellow('connection lost; reconnecting …')));
    client.on('resumed', () => this.printAbove(this.paint.green('reconnected; nothing missed')));
    client.on('kicked', (_by, everywhere) =>
      this.sessionEnded(
        everywhere
          ? 'this account logged out on every device; you were logged out here'
          : 'this account logged in elsewhere; you were logged out here',
      ),
    );
    client.on('session-lost', () => this.sessionEnded('the session could not be resumed; log in again'));
    await client.connect();
    this.client = client;
  }

  /**
   * The chat session is over (the client is closed and logged out): say so, drop the chat prompt and what
   * was typed at it, and let chat() return to the menu.
   */
  private sessionEnded(text: string): void {
    if (this.closed) return;
    if (this.inChat && this.asking && !this.muted) {
      this.rl.write(null, { ctrl: true, name: 'e' });
      this.rl.write(null, { ctrl: true, name: 'u' });
    }
    const asking = this.inChat ? this.asking : undefined;
    if (asking) this.asking = undefined;
    this.printAbove(this.paint.red(text));
    asking?.cancel();
  }

  /** A usable client: after a kick or a lost session, a fresh connection. */
  private async ready(): Promise<ParleyClient> {
    if (!this.client?.connected && !this.client?.user) await this.connect();
    return this.client!;
  }

  private async login(): Promise<void> {
    const who = (await this.ask('userid:')).trim();
    const password = await this.ask('userpassword:', true);
    if (!who || !password) {
      this.say('invalid input!');
      return;
    }
    // Offline messages arrive right after the login ack: hold them until the banner is out.
    this.held = [];
    try {
      const client = await this.ready();
      const user = await client.login(identity(who), password);
      const [friends, groups] = await Promise.all([client.friends(), client.groups()]);
      this.names.clear();
      for (const group of groups) for (const member of group.users) this.names.set(member.id, member.name);
      for (const friend of friends) this.names.set(friend.id, friend.name);
      for (const line of loginBanner(user, friends, groups)) this.say(line);
      if (client.reset)
        this.say(
          this.paint.dim('first login on this device: earlier messages are in history (history:friendid)'),
        );
      this.releaseHeld();
      await this.chat(client);
    } catch (error) {
      this.releaseHeld();
      this.say(
        this.paint.red(error instanceof ClientError ? `"${error.message}"` : (error as Error).message),
      );
    }
  }

  private releaseHeld(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const text of held) this.say(text);
  }

  private async register(): Promise<void> {
    const name = (await this.ask('username:')).trim();
    const password = await this.ask('userpassword:', true);
    try {
      const id = await (await this.ready()).register(name, password);
      this.say(`${name} register success, userid is ${id}, do not forget it!`);
    } catch (error) {
      const code = error instanceof ClientError ? error.code : '';
      this.say(
        this.paint.red(
          code === 'USER_EXISTS' ? `${name} is already exist, register error!` : (error as Error).message,
        ),
      );
    }
  }

  private async chat(client: ParleyClient): Promise<void> {
    this.inChat = true;
    for (const line of helpLines()) this.say(line);
    try {
      while (!this.closed && client.user) {
        const line = await this.ask(this.chatPrompt(client.user.name));
        // A sent chat line ends the typing hint at the other side; anything else needs a stop.
        const composed = this.composingTo;
        this.composingTo = undefined;
        if (composed && !typingTargetOf(line)) void client.typing(composed, 'stop').catch(() => {});
        if (!line.trim()) continue;
        const parsed = parseCommand(line);
        if (!parsed.ok) {
          this.say(this.paint.yellow(parsed.error));
          continue;
        }
        if (parsed.command.kind === 'quit') {
          this.quit(0);
          return;
        }
        if (parsed.command.kind === 'wait' || parsed.command.kind === 'sleep') {
          this.say(this.paint.yellow('wait and sleep are for scripts'));
          continue;
        }
        try {
          const outcome = await runCommand(client, parsed.command, this.paint);
          for (const text of outcome.lines) this.say(text);
          if (parsed.command.kind === 'history') {
            const shown = outcome.event.messages as HistoryMessage[];
            if (shown[0]) this.scheduleRead(client, parsed.command.target, shown[0].mid);
          }
          if (parsed.command.kind === 'loginout') return;
        } catch (error) {
          this.say(
            this.paint.red(
              error instanceof ClientError ? `${error.message} (${error.code})` : (error as Error).message,
            ),
          );
        }
      }
    } finally {
      this.inChat = false;
    }
  }

  private nameOf(id: number | undefined): string {
    if (id === undefined) return '?';
    return this.names.get(id) ?? `user ${id}`;
  }

  /** The chat prompt, with who is typing in front of it. */
  private chatPrompt(name: string): string {
    const typers = [...this.typing.values()].flatMap(({ target, typers }) =>
      typers.map((id) =>
        'groupid' in target ? `${this.nameOf(id)} (group ${target.groupid})` : this.nameOf(id),
      ),
    );
    const hint = typingHint(typers);
    return `${hint ? `${this.paint.dim(hint)} ` : ''}${this.paint.bold(name)}> `;
  }

  /** Draws the chat prompt again (the typing hint changed), keeping what the user typed. */
  private redrawPrompt(): void {
    const user = this.client?.user;
    if (!this.inChat || !this.asking || this.muted || !user || this.closed) return;
    const prompt = this.chatPrompt(user.name);
    this.asking = { ...this.asking, prompt };
    this.rl.setPrompt(prompt);
    clearLine(this.output, 0);
    cursorTo(this.output, 0);
    this.rl.prompt(true);
    if (process.env.TERM === 'dumb') this.output.write(this.rl.line);
  }

  /** Tells the other side this user is composing a message to them (throttled by the client library). */
  private onKeypress(): void {
    const client = this.client;
    if (!this.inChat || !this.asking || this.muted || !client?.user) return;
    const target = typingTargetOf(this.rl.line);
    const before = this.composingTo;
    if (before && (!target || keyOf(before) !== keyOf(target)))
      void client.typing(before, 'stop').catch(() => {});
    this.composingTo = target;
    if (target) void client.typing(target, 'start').catch(() => {});
  }

  /** A message was shown: mark its conversation read up to it, a moment later and once per burst. */
  private shown(client: ParleyClient, message: ChatMessage): void {
    if (!client.user) return;
    this.scheduleRead(client, conversationOf(message, client.user.id), message.mid);
  }

  private scheduleRead(client: ParleyClient, target: Conversation, upTo: number): void {
    const key = keyOf(target);
    const waiting = this.unsentReads.get(key);
    if (waiting && waiting.upTo >= upTo) return;
    this.unsentReads.set(key, { target, upTo });
    this.readTimer ??= setTimeout(() => this.flushReads(client), READ_COALESCE_MS);
  }

  private flushReads(client: ParleyClient | undefined): void {
    clearTimeout(this.readTimer);
    this.readTimer = undefined;
    const reads = [...this.unsentReads.values()];
    this.unsentReads.clear();
    if (!client?.user || this.client !== client) return;
    // Best effort: a marker that fails now is set again by the next message shown.
    for (const { target, upTo } of reads) void client.markRead(target, upTo).catch(() => {});
  }

  /** Shows a prompt and resolves with the line typed; with '' when withdrawn (session ended, quit). */
  private ask(prompt: string, secret = false): Promise<string> {
    return new Promise((resolve) => {
      if (this.closed) return resolve('');
      const onLine = (line: string) => {
        this.asking = undefined;
        this.muted = false;
        resolve(line);
      };
      this.asking = {
        prompt,
        cancel: () => {
          this.rl.off('line', onLine);
          onLine('');
        },
      };
      this.rl.setPrompt(prompt);
      this.rl.prompt();
      this.muted = secret;
      this.rl.once('line', onLine);
    });
  }

  private say(text: string): void {
    if (!this.closed) this.output.write(`${text}\n`);
  }

  /**
   * Prints on a line of its own: above the prompt and what the user was typing, both drawn again after
   * it, when a question is on screen; otherwise simply (never redrawing a prompt that was answered).
   */
  private printAbove(text: string): void {
    if (this.closed) return;
    clearLine(this.output, 0);
    cursorTo(this.output, 0);
    this.output.write(`${text}\n`);
    if (!this.asking) return;
    // A password prompt: draw it again, but never the (hidden) characters typed.
    if (this.muted) {
      this.output.write(this.asking.prompt);
      return;
    }
    this.rl.prompt(true);
    // readline redraws the typed text itself except on dumb terminals, where it only writes the prompt.
    if (process.env.TERM === 'dumb') this.output.write(this.rl.line);
  }

  private quit(code: number): number {
    if (this.closed) return code;
    this.closed = true;
    // Written before the close, which ends the link gracefully: the markers reach the server.
    this.flushReads(this.client);
    this.client?.close();
    this.rl.close();
    this.output.write('bye\n');
    process.exitCode = code;
    // A pending prompt resolves empty so run() returns.
    const asking = this.asking;
    this.asking = undefined;
    asking?.cancel();
    return code;
  }
}
