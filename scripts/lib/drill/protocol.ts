import type { TrafficReport } from '../traffic.js';

/** Messages between the drill (root namespace) and its load client (client namespace), over Node IPC. */

export interface LoadSettings {
  readonly host: string;
  readonly port: number;
  readonly clients: number;
  /** Devices of each user that has several (each sends and must receive everything). */
  readonly devicesPerUser: number;
  /** Share of the users with `devicesPerUser` devices (the others have one). */
  readonly deviceShare: number;
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
  /**
   * The accounting by phase: [0] before the first fault, [i] from fault i's mark to the next one. Lost
   * deliveries count in the phase their send started, duplicates and reorderings in the one they arrived.
   */
  readonly phases: PhaseAccounting[];
}

/** Lost deliveries, duplicates and reorderings (each counted per receiving device) in one phase of the drill. */
export interface PhaseAccounting {
  readonly lost: number;
  readonly duplicates: number;
  readonly reordered: number;
}

export type DrillReply =
  | { readonly type: 'ready'; readonly crossPairs: number; readonly pairs: number; readonly devices: number }
  | { readonly type: 'marked' }
  | ({ readonly type: 'settled' } & SettleResult)
  | ({ readonly type: 'finished' } & FinishResult)
  | { readonly type: 'error'; readonly message: string };

/** The v1 population (original ChatClient emulators) in its own process beside the v2 load. */
export interface V1Settings {
  readonly host: string;
  readonly port: number;
  /** Users, in pairs that chat 1:1 (an odd one out pairs with the first). */
  readonly clients: number;
  /** Each user sends one `chat` this often. */
  readonly intervalMs: number;
  /** A user who saw nothing for this long while the partner kept typing restarts the client. */
  readonly patienceMs: number;
  /** Connect or login not answered within this long: the person kills the client and starts it again. */
  readonly loginTimeoutMs: number;
  /** The servers' V1_ACK_SETTLE_MS: how far before a drop a shown message may come again. */
  readonly settleMs: number;
  readonly namePrefix: string;
}

export type V1Command =
  | { readonly type: 'start'; readonly settings: V1Settings }
  | { readonly type: 'mark'; readonly fault: string }
  /** The fault is in place now (injecting took a moment after the mark). */
  | { readonly type: 'injected' }
  | { readonly type: 'settle'; readonly minMs: number; readonly timeoutMs: number }
  /** Stop typing, wait until everything stored was shown, everyone logs out and quits. */
  | { readonly type: 'finish'; readonly drainMs: number; readonly mysqlUrl: string };

export interface V1SettleResult {
  readonly settled: boolean;
  /** When the last v1 user showed (in its current session) a message its partner sent once the fault was in. */
  readonly backMs: number;
  /** Client restarts since the mark: after a dropped connection, and (of those) out of impatience. */
  readonly restarts: number;
  readonly impatientRestarts: number;
  readonly stuck: string[];
}

export interface V1FinishResult {
  readonly users: number;
  /** `chat` frames written by the clients. */
  readonly sent: number;
  /** Sends the server stored (rows in `message`): what it accepted, the only promise v1 has. */
  readonly accepted: number;
  /** Accepted messages shown at least once by the recipient, over all its sessions. */
  readonly shown: number;
  /** Accepted, never shown. */
  readonly lost: number;
  /** Second and later showings of one message (after a restart: the settle window's duplicates). */
  readonly duplicates: number;
  /** Showings inside the duplicate window of a session that ended without loginout (see legacy-load.ts). */
  readonly duplicateBound: number;
  /** Duplicates whose first showing lies outside that window: the rule did not explain them. */
  readonly unexplainedDuplicates: number;
  /** Sent in a session still open at the end (nothing cut it) but never stored: silently dropped. */
  readonly unstored: number;
  readonly unstoredExamples: string[];
  /** ERROR frames v1 users got (the original ignores them): the first few. */
  readonly errorReplies: string[];
  /** Shown before an earlier message of the same sender within one session. */
  readonly reordered: number;
  /** The first few reorderings: who, when, and when each message was sent. */
  readonly reorders: string[];
  /** Emulator aborts (a merged, oversized or malformed read): each would have killed the original. */
  readonly aborts: string[];
  readonly restarts: number;
  readonly impatientRestarts: number;
  /** First-showing latency (send to shown). */
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly diagnosis: string[];
}

export type V1Reply =
  | { readonly type: 'ready'; readonly users: number }
  | { readonly type: 'marked' }
  | { readonly type: 'injected' }
  | ({ readonly type: 'settled' } & V1SettleResult)
  | ({ readonly type: 'finished' } & V1FinishResult)
  | { readonly type: 'error'; readonly message: string };
