import type { DrillResult } from './drill.js';

const ms = (value: number | undefined) =>
  value === undefined ? '–' : Number.isNaN(value) ? 'never' : `${Math.round(value)}`;

/** The drill's results as Markdown tables (also pasted into docs/OPERATIONS.md). */
export function renderDrillReport(result: DrillResult, run: { clients: number; seconds: number }): string {
  const lines = [
    `Failover drill: ${run.clients} clients, ${run.seconds.toFixed(0)} s. Times in ms from the fault.`,
    '',
    '| fault | VIP on the other LB | new connections served | every client sending again | reconnects | failed probes | result |',
    '|---|---|---|---|---|---|---|',
    ...result.faults.map(
      (f) =>
        `| ${f.fault} | ${ms(f.vipMovedMs)} | ${f.newConnMs === 0 ? 'never failed' : ms(f.newConnMs)} | ${ms(f.clientsMs)} | ${f.disconnects} | ${f.probeFailures} | ${f.problems.length ? f.problems.join('; ') : 'ok'} |`,
    ),
    '',
    '| sent | acked | delivered | lost | duplicates shown | out of order | ghost users | LB connections left |',
    '|---|---|---|---|---|---|---|---|',
    `| ${result.totals.sent} | ${result.totals.acked} | ${result.totals.delivered} | ${result.totals.lost} | ${result.totals.duplicates} | ${result.totals.reordered} | ${result.totals.ghosts} | ${result.lbConnections} |`,
    '',
    `Sequence holes noticed and repaired by clients: ${result.totals.gapsRepaired}.`,
  ];
  return lines.join('\n');
}
