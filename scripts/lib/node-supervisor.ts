import type { NodeExit } from './node-process.js';

/** What the supervisor needs of a node (NodeProcess; a fake in tests). */
export interface SupervisedNode {
  readonly nodeId: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  onExit(listener: (exit: NodeExit) => void): void;
  recentOutput(): readonly string[];
  start(): Promise<void>;
}

export interface SupervisorOptions {
  /** Start a node again after it died. @default false */
  readonly restart?: boolean;
  /** Where reports go (one or more lines, no trailing newline). */
  readonly report: (text: string) => void;
  /** Delay before the first restart; doubles with each death in a row. @default 1000 */
  readonly minDelayMs?: number;
  /** Longest delay between restarts. @default 30000 */
  readonly maxDelayMs?: number;
  /** A node that ran this long before dying restarts after minDelayMs again. @default 60000 */
  readonly stableMs?: number;
  /** Log lines shown in a death report. @default 10 */
  readonly reportLines?: number;
  /** Injected for tests (fake timers). */
  readonly now?: () => number;
}

interface NodeState {
  startedAt: number;
  /** Deaths in a row without a stable run in between. */
  deaths: number;
  timer: NodeJS.Timeout | undefined;
}

/** "exit code 1" / "killed by SIGKILL". */
export function describeExit(exit: Pick<NodeExit, 'code' | 'signal'>): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/**
 * Watches the nodes of a local cluster: a node whose process ends without stop() asking for it is reported
 * (exit code or signal, its last log lines, where the full log is) and, with `restart`, started again after
 * a delay that doubles with every death in a row (1 s, 2 s, 4 s … 30 s), so a node that cannot start does
 * not spin.
 */
export class NodeSupervisor {
  private readonly states = new Map<SupervisedNode, NodeState>();
  private closed = false;
  private readonly now: () => number;

  constructor(
    nodes: readonly SupervisedNode[],
    private readonly options: SupervisorOptions,
  ) {
    this.now = options.now ?? Date.now;
    for (const node of nodes) {
      const state: NodeState = { startedAt: this.now(), deaths: 0, timer: undefined };
      this.states.set(node, state);
      node.onExit((exit) => this.onExit(node, state, exit));
    }
  }

  /** Stops watching: pending restarts are cancelled and later exits are not reported. */
  close(): void {
    this.closed = true;
    for (const state of this.states.values()) clearTimeout(state.timer);
  }

  private onExit(node: SupervisedNode, state: NodeState, exit: NodeExit): void {
    if (this.closed || exit.expected) return;
    // Until a restart, pid is still the one of the process that ended.
    const pid = node.pid;
    const lines = node.recentOutput().slice(-(this.options.reportLines ?? 10));
    this.options.report(
      [
        `${node.nodeId}${pid ? ` (pid ${pid})` : ''} died: ${describeExit(exit)}. Last log lines (full log: ${node.logFile}):`,
        ...(lines.length > 0 ? lines.map((line) => `  | ${line}`) : ['  | (no output)']),
      ].join('\n'),
    );
    if (!this.options.restart) {
      this.options.report(`${node.nodeId} stays down (run the cluster with --restart to restart dead nodes)`);
      return;
    }
    if (this.now() - state.startedAt >= (this.options.stableMs ?? 60_000)) state.deaths = 0;
    const min = this.options.minDelayMs ?? 1000;
    const delay = Math.min(this.options.maxDelayMs ?? 30_000, min * 2 ** state.deaths);
    state.deaths++;
    this.options.report(`${node.nodeId}: restarting in ${formatDelay(delay)}`);
    clearTimeout(state.timer);
    state.timer = setTimeout(() => this.restart(node, state), delay);
  }

  private restart(node: SupervisedNode, state: NodeState): void {
    state.timer = undefined;
    if (this.closed) return;
    state.startedAt = this.now();
    // A start that fails ends with the process's exit, which onExit reports and schedules again.
    node.start().then(
      () => {
        if (!this.closed) this.options.report(`${node.nodeId} restarted (pid ${node.pid})`);
      },
      (error: unknown) => {
        if (!this.closed)
          this.options.report(
            `${node.nodeId} did not come back: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}`,
          );
      },
    );
  }
}

function formatDelay(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
