import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeExit } from '../../../scripts/lib/node-process.js';
import { NodeSupervisor, type SupervisedNode } from '../../../scripts/lib/node-supervisor.js';

class FakeNode implements SupervisedNode {
  pid: number | undefined = 100;
  readonly logFile = '/tmp/node-1.log';
  starts = 0;
  private listeners: ((exit: NodeExit) => void)[] = [];
  constructor(readonly nodeId = 'node-1') {}
  onExit(listener: (exit: NodeExit) => void): void {
    this.listeners.push(listener);
  }
  recentOutput(): readonly string[] {
    return ['{"level":30,"msg":"Parley listening"}', 'Error: boom'];
  }
  start(): Promise<void> {
    this.starts++;
    this.pid = 100 + this.starts;
    return Promise.resolve();
  }
  exit(exit: Partial<NodeExit>): void {
    for (const listener of this.listeners) listener({ code: null, signal: null, expected: false, ...exit });
  }
}

let now = 0;
beforeEach(() => {
  vi.useFakeTimers();
  now = 0;
});
afterEach(() => vi.useRealTimers());

describe('NodeSupervisor', () => {
  it('reports a node that died with its exit code, pid, last log lines and log file', () => {
    const node = new FakeNode();
    const reports: string[] = [];
    new NodeSupervisor([node], { report: (text) => reports.push(text) });
    node.exit({ code: 1 });
    expect(reports[0]).toBe(
      [
        'node-1 (pid 100) died: exit code 1. Last log lines (full log: /tmp/node-1.log):',
        '  | {"level":30,"msg":"Parley listening"}',
        '  | Error: boom',
      ].join('\n'),
    );
    expect(reports[1]).toMatch(/node-1 stays down \(run the cluster with --restart/);
    node.exit({ signal: 'SIGKILL' });
    expect(reports[2]).toMatch(/^node-1 \(pid 100\) died: killed by SIGKILL\./);
  });

  it('says nothing about an exit that stop() asked for, or after close()', () => {
    const node = new FakeNode();
    const reports: string[] = [];
    const supervisor = new NodeSupervisor([node], { report: (text) => reports.push(text), restart: true });
    node.exit({ code: 0, expected: true });
    supervisor.close();
    node.exit({ code: 1 });
    vi.advanceTimersByTime(60_000);
    expect(reports).toEqual([]);
    expect(node.starts).toBe(0);
  });

  it('with restart, starts a dead node again after a delay that doubles while it keeps dying', async () => {
    const node = new FakeNode();
    const reports: string[] = [];
    new NodeSupervisor([node], {
      report: (text) => reports.push(text),
      restart: true,
      minDelayMs: 1000,
      maxDelayMs: 4000,
      stableMs: 60_000,
      now: () => now,
    });
    const delays: number[] = [];
    for (let death = 0; death < 4; death++) {
      node.exit({ code: 1 });
      const starts = node.starts;
      let waited = 0;
      while (node.starts === starts) {
        await vi.advanceTimersByTimeAsync(500);
        now += 500;
        waited += 500;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([1000, 2000, 4000, 4000]);
    expect(reports).toContain('node-1: restarting in 2 s');
    expect(reports).toContain('node-1 restarted (pid 102)');
    // After a stable run the delay starts over.
    now += 60_000;
    node.exit({ signal: 'SIGKILL' });
    expect(reports.at(-1)).toBe('node-1: restarting in 1 s');
  });

  it('cancels a pending restart on close()', async () => {
    const node = new FakeNode();
    const supervisor = new NodeSupervisor([node], { report: () => undefined, restart: true });
    node.exit({ code: 1 });
    supervisor.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(node.starts).toBe(0);
  });
});
