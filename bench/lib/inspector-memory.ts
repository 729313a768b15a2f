import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';

/** A process's memory right after a full garbage collection. */
export interface MemoryAfterGc {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

/** The inspector's WebSocket URL a node printed at start (`--inspect=127.0.0.1:0`), from its output. */
export function inspectorUrl(output: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
}

/** Polls a log file until the node wrote its inspector URL there. */
export async function inspectorUrlFromLog(logFile: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = inspectorUrl(await readFile(logFile, 'utf8').catch(() => ''));
    if (url) return url;
    if (Date.now() > deadline)
      throw new Error(`no inspector URL in ${logFile} (start the node with --inspect=127.0.0.1:0)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Forces full GCs in a Node process over the DevTools protocol (HeapProfiler.collectGarbage, twice: the
 * second frees what finalizers of the first released) and reads `process.memoryUsage()` there. Works on
 * any build started with `--inspect`, so older checkouts need no admin route for it.
 */
export async function memoryAfterGc(url: string): Promise<MemoryAfterGc> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on('message', (data: Buffer) => {
    const reply = JSON.parse(data.toString()) as { id?: number; result?: unknown };
    if (reply.id !== undefined) pending.get(reply.id)?.(reply.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const result = (await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result?: { value?: string } };
    const usage = JSON.parse(result.result?.value ?? '{}') as { rss?: number; heapUsed?: number };
    if (usage.rss === undefined || usage.heapUsed === undefined)
      throw new Error(`no memoryUsage() from ${url}`);
    return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
  } finally {
    ws.close();
  }
}

/** Resident memory of a process from /proc (bytes; 0 once it is gone). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}
