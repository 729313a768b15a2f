import type { EngineName, KvEntry } from './kv-engine.js';

/** Operations, as the original's command table maps them: SET/HSET/RSET … EXIST/HEXIST/REXIST. */
export type Operation = 'SET' | 'GET' | 'DEL' | 'MOD' | 'EXIST' | 'COUNT' | 'KEYS' | 'RANGE' | 'PREFIX';

const FAMILIES: readonly (readonly [string, EngineName])[] = [
  ['', 'array'],
  ['H', 'hash'],
  ['R', 'rbtree'],
];
const OPERATIONS: readonly Operation[] = ['SET', 'GET', 'DEL', 'MOD', 'EXIST', 'COUNT', 'KEYS'];

/** Every command name: the original 15 plus COUNT/KEYS per engine and RRANGE/RPREFIX on the tree. */
export const COMMANDS: ReadonlyMap<string, { readonly engine: EngineName; readonly op: Operation }> = new Map(
  [
    ...FAMILIES.flatMap(([prefix, engine]) =>
      OPERATIONS.map((op) => [`${prefix}${op}`, { engine, op }] as const),
    ),
    ['RRANGE', { engine: 'rbtree', op: 'RANGE' }],
    ['RPREFIX', { engine: 'rbtree', op: 'PREFIX' }],
  ],
);

/** The reply of one command: the original's status and message, plus `result` for the added commands. */
export interface KvReply {
  readonly status: 'OK' | 'EXIST' | 'NO_EXIST' | 'FULL' | 'ERROR';
  readonly message: string;
  readonly result?: number | readonly KvEntry[];
  /** Set for requests that were malformed (the HTTP layer answers 400), not for engine outcomes. */
  readonly invalid?: boolean;
}

export const ENGINE_LABEL: Record<EngineName, string> = { array: 'Array', hash: 'Hash', rbtree: 'RBTree' };
