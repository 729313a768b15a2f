import type { TrafficReport } from '../traffic.js';

/** Messages between the drill (root namespace) and its load client (client namespace), over Node IPC. */

export interface LoadSettings {
  readonly host: string;
  readonly port: number;
  readonly clients: number;
  readonly groupShare: number;
  readonly intervalMs: number;
  readonly heartbeatMs: number;
  readonly silenceTimeoutMs: number;
}

export type DrillCommand =
  | { readonly type: 'start'; readonly settings: LoadSettings }
  /** A fault is about to be injected: time zero of its measurements. */
  | { readonly type: 'mark' }
  /** Wait (at least minMs after the mark) until every client sends again and new connections work. */
  | { readonly type: 'settle'; readonly minMs: number; readonly timeoutMs: number }
  /** Stop sending, wait for every acked message, log everyone out, then wait for presence to empty. */
  | {
      readonly type: 'finish';
      readonly drainMs: number;
      readonly redisUrl: string;
      readonly redisPrefix: string;
      readonly ghostTimeoutMs: number;
    };

export interface SettleResult {
  /** First successful fresh connection after the first failed one (0: new connections never failed). */
  readonly newConnMs: number;
  /** When the last client had an acked send started after the fault (and after its own reconnect). */
  readonly clientsMs: number;
  readonly probeFailures: number;
  readonly disconnects: number;
  readonly resumes: number;
  /** Up to five clients that did not come back, and why. */
  readonly stuck: string[];
  /** False when the timeout passed first. */
  readonly settled: boolean;
}

/** The load's accounting (as Traffic reports it), then the ghost check and diagnoses. */
export interface FinishResult extends Omit<TrafficReport, 'latenciesMs'> {
  /** Users still online in Redis after everyone logged out and the ghost timeout passed. */
  readonly ghosts: number;
  readonly ghostsClearedMs: number;
  /** Holes in pushed inbox sequences the clients noticed and repaired by resuming (server bug if > 0). */
  readonly gapsRepaired: number;
  /** When messages are missing: which, whether stored, and inboxes holding messages never pushed. */
  readonly diagnosis: string[];
}

export type DrillReply =
  | { readonly type: 'ready'; readonly crossPairs: number; readonly pairs: number }
  | { readonly type: 'marked' }
  | ({ readonly type: 'settled' } & SettleResult)
  | ({ readonly type: 'finished' } & FinishResult)
  | { readonly type: 'error'; readonly message: string };
