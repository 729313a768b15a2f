import type { DrillResult } from './drill.js';
import type { PhaseAccounting } from './protocol.js';

const phase = (p: PhaseAccounting | undefined) => (p ? `${p.lost} / ${p.duplicates} / ${p.reordered}` : '–');
const ms = (value: number | undefined) =>
  value === undefined ? '–' : Number.isNaN(value) ? 'never' : `${Math.round(value)}`;

/** The drill's results as Markdown tables (also pasted into docs/OPERATIONS.md). */
export function renderDrillReport(
  result: DrillResult,
  run: { clients: number; v1Clients: number; seconds: number; devicesNote: string },
): string {
  const v1 = result.v1;
  const lines = [
    `Failover drill: ${run.clients} v2 users on ${result.totals.devices} devices (${run.devicesNote})${v1 ? ` and ${run.v1Clients} original (v1) clients` : ''}, ${run.seconds.toFixed(0)} s. Times in ms from the fault.`,
    '',
    '| fault | VIP on the other LB | new connections served | every client sending again | reconnects | failed probes | v2 lost / duplicates / out of order (per device) | every v1 user showing again | v1 restarts (impatient) | result |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...result.faults.map(
      (f) =>
        `| ${f.fault} | ${ms(f.vipMovedMs)} | ${f.newConnMs === 0 ? 'never failed' : ms(f.newConnMs)} | ${ms(f.clientsMs)} | ${f.disconnects} | ${f.probeFailures} | ${f.accounting ? `${f.accounting.lost} / ${f.accounting.duplicates} / ${f.accounting.reordered}` : '–'} | ${ms(f.v1?.backMs)} | ${f.v1 ? `${f.v1.restarts} (${f.v1.impatientRestarts})` : '–'} | ${f.problems.length ? f.problems.join('; ') : 'ok'} |`,
    ),
    '',
    '| v2 | sent | acked | delivered | lost | duplicates shown | out of order | own echoes (unmarked) | ghost users | LB connections left |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| | ${result.totals.sent} | ${result.totals.acked} | ${result.totals.delivered} | ${result.totals.lost} | ${result.totals.duplicates} | ${result.totals.reordered} | ${result.totals.echoes} (${result.totals.unmarkedEchoes}) | ${result.totals.ghosts} | ${result.lbConnections} |`,
    '',
    `v2 accounting per receiving device: every acked send is owed once to each device of each recipient and to the sender's other devices (own copies); a device's echo of its own send is not counted. Before the first fault: ${phase(result.totals.phases[0])} (lost / duplicates / out of order).`,
    '',
    `Sequence holes noticed and repaired by clients: ${result.totals.gapsRepaired}.`,
  ];
  if (v1)
    lines.push(
      '',
      '| v1 (original client) | sent | stored (accepted) | shown | lost | duplicates (bound) | out of order | client aborts | restarts (impatient) | latency p50 / p99 ms |',
      '|---|---|---|---|---|---|---|---|---|---|',
      `| | ${v1.sent} | ${v1.accepted} | ${v1.shown} | ${v1.lost} | ${v1.duplicates} (${v1.duplicateBound}) | ${v1.reordered} | ${v1.aborts.length} | ${v1.restarts} (${v1.impatientRestarts}) | ${v1.latencyMs.p50} / ${v1.latencyMs.p99} |`,
      '',
      'v1 accounting: accepted = stored in `message` (a v1 sender gets no ack); every line sent on a connection still open at the end must be stored, and no v1 user may get an ERROR frame (the original ignores them: a silent loss); lost = accepted, never shown by the recipient in any of its sessions; a duplicate must have been shown before, in the last V1_ACK_SETTLE_MS + patience + 1 s of an earlier session that ended without `loginout` — the bound counts the showings in such windows; out of order = within one session, per sender.',
    );
  return lines.join('\n');
}
