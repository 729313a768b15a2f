import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { ClientError, ParleyClient, type ChatMessage } from '../client/parley-client.js';
import { COMMAND_HELP, parseCommand } from './commands.js';
import { connectFailure, endpointOf, identity, type CliOptions } from './options.js';
import { formatMessage, loginBanner, makePaint, type Paint } from './render.js';
import { helpLines, runCommand } from './run-command.js';

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
    const client = new ParleyClient(endpointOf(this.options));
    client.on('message', (message: ChatMessage) => {
      const text = formatMessage(message, this.paint);
      if (this.held) this.held.push(text);
      else this.printAbove(text);
    });
    client.on('disconnected', () => this.printAbove(this.paint.yellow('connection lost; reconnecting …')));
    client.on('resumed', () => this.printAbove(this.paint.green('reconnected; nothing missed')));
    client.on('kicked', () =>
      this.sessionEnded('this account logged in elsewhere; you were logged out here'),
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
      for (const line of loginBanner(user, friends, groups)) this.say(line);
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
        const line = await this.ask(`${this.paint.bold(client.user.name)}> `);
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
