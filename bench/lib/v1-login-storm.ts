import { connect, type Socket } from 'node:net';

/** How a storm of v1 password logins went. */
export interface LoginStormResult {
  readonly seconds: number;
  /** Latency of each successful login (connect to LOGIN_MSG_ACK), ascending, ms. */
  readonly latenciesMs: Float64Array;
  /** Failed logins by cause: `errno:<n>`, an error frame's code, `closed`, `timeout`. */
  readonly failures: Readonly<Record<string, number>>;
}

/** One v1 login on its own connection: resolves with the reply (or a failure cause); keeps the socket. */
function loginOnce(
  host: string,
  port: number,
  id: number,
  password: string,
  timeoutMs: number,
  sockets: Socket[],
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    sockets.push(socket);
    socket.setNoDelay(true);
    let buffered = '';
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    const done = (cause: string | undefined) => {
      clearTimeout(timer);
      resolve(cause);
    };
    socket.on('error', () => undefined);
    socket.once('close', () => done('closed'));
    socket.once('connect', () => socket.write(`${JSON.stringify({ id, msgid: 1, password })}\0`));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const docs = buffered.split(/[\0\n]+/);
      buffered = docs.pop()!;
      for (const doc of docs) {
        if (!doc.trim()) continue;
        const js = JSON.parse(doc) as { msgid?: number; errno?: number; code?: string };
        if (js.msgid === 2) done(js.errno === 0 ? undefined : `errno:${js.errno}`);
        else if (js.msgid === 11) done(js.code ?? 'error');
      }
    });
  });
}

/**
 * Logs the users in (one new connection each, LOGIN_MSG as the original client sends it) with at most
 * `concurrency` logins in flight; every connection stays open until the storm is over, as users who just
 * logged in would.
 */
export async function loginStorm(options: {
  readonly host: string;
  readonly port: number;
  readonly ids: readonly number[];
  readonly password: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Called once every login finished, before the connections close (e.g. to read placement). */
  readonly beforeClose?: () => Promise<void>;
}): Promise<LoginStormResult> {
  const sockets: Socket[] = [];
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < options.ids.length) {
      const id = options.ids[next++]!;
      const at = performance.now();
      const cause = await loginOnce(
        options.host,
        options.port,
        id,
        options.password,
        options.timeoutMs,
        sockets,
      );
      if (cause === undefined) latencies.push(performance.now() - at);
      else failures[cause] = (failures[cause] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  await options.beforeClose?.();
  for (const socket of sockets) socket.destroy();
  return { seconds, latenciesMs: Float64Array.from(latencies).sort(), failures };
}
