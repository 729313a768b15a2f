import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStat } from '../../scripts/lib/child.js';

/** What one group of processes spent over the window. */
export interface GroupCost {
  /** CPU time (user + system), from /proc. */
  readonly cpuMs: number;
  /** Instructions retired in user and kernel mode (perf), when the machine exposes the counters. */
  readonly userInstructions?: number;
  readonly kernelInstructions?: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuTicks(pid: number): number {
  const fields = procStat(pid);
  return fields ? Number(fields[11]) + Number(fields[12]) : 0; // utime + stime; 0 once gone
}

/** Busy ticks of the whole machine, all CPUs (/proc/stat: everything but idle and iowait). */
export function machineBusyTicks(stat: string = readFileSync('/proc/stat', 'utf8')): number {
  const fields = /^cpu\s+(.*)$/m.exec(stat)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return user + nice + system + irq + softirq + steal;
}

/**
 * CPU spent per group of processes between `start` and `stop` (plus `machine`: the whole box): CPU time from /proc and, if `perf`
 * works here, instructions retired. Instruction counts barely move between runs on this shared VM,
 * where wall-clock rates move by up to 2× within an hour, so they are what A/B comparisons should use.
 */
export class ProcessCost {
  private readonly ticksAtStart: Map<number, number>;
  private readonly perf = new Map<string, { child: ChildProcess; output: string }>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'parley-cost-'));
  private readonly machineAtStart = machineBusyTicks();

  private constructor(private readonly groups: Readonly<Record<string, readonly number[]>>) {
    this.ticksAtStart = new Map(
      Object.values(groups)
        .flat()
        .map((pid) => [pid, cpuTicks(pid)]),
    );
    for (const [name, pids] of Object.entries(groups)) {
      if (pids.length === 0) continue;
      const output = join(this.dir, `${name}.csv`);
      const child = spawn(
        'perf',
        ['stat', '-x,', '-e', 'instructions:u,instructions:k', '-p', pids.join(','), '-o', output],
        { stdio: 'ignore' },
      );
      child.on('error', () => this.perf.delete(name)); // no perf: CPU time only
      this.perf.set(name, { child, output });
    }
  }

  static start(groups: Readonly<Record<string, readonly number[]>>): ProcessCost {
    return new ProcessCost(groups);
  }

  async stop(): Promise<Record<string, GroupCost>> {
    const ticksAtStop = new Map([...this.ticksAtStart.keys()].map((pid) => [pid, cpuTicks(pid)]));
    await Promise.all(
      [...this.perf.values()].map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.pid === undefined) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGINT');
          }),
      ),
    );
    const costs: Record<string, GroupCost> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      const ticks = pids.reduce((sum, pid) => sum + ticksAtStop.get(pid)! - this.ticksAtStart.get(pid)!, 0);
      costs[name] = { cpuMs: ticks * TICK_MS, ...this.instructions(name) };
    }
    // Everything that ran on the box (other users of a shared machine included).
    costs.machine = { cpuMs: (machineBusyTicks() - this.machineAtStart) * TICK_MS };
    rmSync(this.dir, { recursive: true, force: true });
    return costs;
  }

  private instructions(name: string): Pick<GroupCost, 'userInstructions' | 'kernelInstructions'> {
    const perf = this.perf.get(name);
    if (!perf) return {};
    let text = '';
    try {
      text = readFileSync(perf.output, 'utf8');
    } catch {
      return {};
    }
    const count = (event: string) => {
      const value = Number(new RegExp(`^(\\d+),[^,]*,${event}`, 'm').exec(text)?.[1]);
      return Number.isFinite(value) ? value : undefined;
    };
    const user = count('instructions:u');
    const kernel = count('instructions:k');
    return user === undefined || kernel === undefined
      ? {}
      : { userInstructions: user, kernelInstructions: kernel };
  }
}

/** Costs divided by a count of work done (messages, requests): CPU µs and thousands of instructions each. */
export function costPer(costs: Record<string, GroupCost>, count: number): Record<string, string> {
  const per: Record<string, string> = {};
  for (const [name, cost] of Object.entries(costs)) {
    const parts = [`${((cost.cpuMs * 1000) / count).toFixed(1)} µs CPU`];
    if (cost.userInstructions !== undefined && cost.kernelInstructions !== undefined)
      parts.push(
        `${(cost.userInstructions / count / 1000).toFixed(1)}k user + ${(cost.kernelInstructions / count / 1000).toFixed(1)}k kernel instructions`,
      );
    per[name] = parts.join(', ');
  }
  return per;
}
