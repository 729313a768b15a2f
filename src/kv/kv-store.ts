// The module binding, not the global: Node 20's global `Buffer` is a getter run on every use (hot path).
import { Buffer } from 'node:buffer';
import { ArrayEngine } from './array-engine.js';
import { COMMANDS, ENGINE_LABEL, type KvReply } from './kv-commands.js';
import type { EngineName, KvEngine } from './kv-engine.js';
import type { KvLog } from './kv-log.js';
import { HashEngine } from './hash-engine.js';
import { RbTreeEngine } from './rbtree-engine.js';

export interface KvLimits {
  readonly arrayCapacity: number;
  readonly hashCapacity: number;
  readonly rbtreeCapacity: number;
  /** Longest key, in UTF-8 bytes. */
  readonly maxKeyBytes: number;
  /** Longest value, in UTF-8 bytes. */
  readonly maxValueBytes: number;
}

export interface EngineStats {
  readonly count: number;
  readonly max: number;
  readonly remaining: number;
}

export type StatsDocument = { readonly status: 'OK'; readonly data: Record<EngineName, EngineStats> };

/** Largest page of KEYS / RRANGE / RPREFIX. */
export const MAX_LIST = 1000;

/** One engine's entry of the stats document, as JSON (numbers only: nothing to escape). */
const statsPart = (engine: KvEngine): string =>
  `{"count":${engine.size},"max":${engine.capacity},"remaining":${engine.capacity - engine.size}}`;

const invalid = (message: string): KvReply => ({ status: 'ERROR', message, invalid: true });

/**
 * The three engines and the command semantics of the original web demo (same statuses and messages),
 * with its bugs fixed: capacities enforced for all three (FULL), no silent truncation, HDEL of a missing
 * key is NO_EXIST, UTF-8 keys are safe. Writes go to an engine's append-only log when persistence is on.
 */
export class KvStore {
  readonly engines: Record<EngineName, KvEngine>;
  readonly ops = { total: 0, errors: 0 };

  constructor(
    private readonly limits: KvLimits,
    private readonly logs?: Record<EngineName, KvLog>,
    /** Engines already filled (from a log replay). */
    engines?: Record<EngineName, KvEngine>,
  ) {
    this.engines = engines ?? {
      array: new ArrayEngine(limits.arrayCapacity),
      hash: new HashEngine(limits.hashCapacity),
      rbtree: new RbTreeEngine(limits.rbtreeCapacity),
    };
  }

  get tree(): RbTreeEngine {
    return this.engines.rbtree as RbTreeEngine;
  }

  execute(cmd: string, key: string | undefined, value: string | undefined): KvReply {
    this.ops.total++;
    const reply = this.run(cmd, key, value);
    if (reply.status === 'ERROR') this.ops.errors++;
    return reply;
  }

  stats(): StatsDocument {
    const one = (engine: KvEngine): EngineStats => ({
      count: engine.size,
      max: engine.capacity,
      remaining: engine.capacity - engine.size,
    });
    return {
      status: 'OK',
      data: {
        array: one(this.engines.array),
        hash: one(this.engines.hash),
        rbtree: one(this.engines.rbtree),
      },
    };
  }

  /**
   * `stats()` as JSON, rebuilt only when an engine's size changed: every command reply embeds it, so
   * this is on the hot path of the KV API.
   */
  statsJson(): string {
    const { array, hash, rbtree } = this.engines;
    const cache = this.statsCache;
    if (cache.array !== array.size || cache.hash !== hash.size || cache.rbtree !== rbtree.size) {
      this.statsCache = {
        array: array.size,
        hash: hash.size,
        rbtree: rbtree.size,
        json: `{"status":"OK","data":{"array":${statsPart(array)},"hash":${statsPart(hash)},"rbtree":${statsPart(rbtree)}}}`,
      };
    }
    return this.statsCache.json;
  }

  private statsCache = { array: -1, hash: -1, rbtree: -1, json: '' };

  private run(cmd: string, key: string | undefined, value: string | undefined): KvReply {
    const command = COMMANDS.get(cmd);
    if (!command) return invalid('Unknown command');
    const engine = this.engines[command.engine];
    const { op } = command;
    if (op === 'COUNT') return { status: 'OK', message: String(engine.size), result: engine.size };
    if (op === 'KEYS') {
      const limit = parseLimit(key);
      if (limit === undefined) return invalid(`Limit must be a number from 1 to ${MAX_LIST}`);
      const entries = engine.entries(limit);
      return { status: 'OK', message: `${entries.length} keys`, result: entries };
    }
    if (key === undefined || key === '') return invalid('Key required');
    if (Buffer.byteLength(key) > this.limits.maxKeyBytes)
      return invalid(`Key too long (at most ${this.limits.maxKeyBytes} bytes)`);
    if (op === 'RANGE' || op === 'PREFIX') return this.scan(op, key, value);
    if ((op === 'SET' || op === 'MOD') && (value === undefined || value === ''))
      return invalid('Value required');
    if (value !== undefined && Buffer.byteLength(value) > this.limits.maxValueBytes) {
      return invalid(`Value too long (at most ${this.limits.maxValueBytes} bytes)`);
    }
    switch (op) {
      case 'SET': {
        const result = engine.set(key, value!);
        if (result === 'EXIST') return { status: 'EXIST', message: 'Key already exists' };
        if (result === 'FULL')
          return { status: 'FULL', message: `${ENGINE_LABEL[engine.name]} storage full` };
        this.logs?.[engine.name].append('S', key, value!);
        return { status: 'OK', message: 'Set successfully' };
      }
      case 'GET': {
        const found = engine.get(key);
        return found === undefined
          ? { status: 'NO_EXIST', message: 'Key not found' }
          : { status: 'OK', message: found };
      }
      case 'DEL':
        if (engine.delete(key) === 'NO_EXIST') return { status: 'NO_EXIST', message: 'Key not found' };
        this.logs?.[engine.name].append('D', key);
        return { status: 'OK', message: 'Deleted successfully' };
      case 'MOD':
        if (engine.modify(key, value!) === 'NO_EXIST')
          return { status: 'NO_EXIST', message: 'Key not found' };
        this.logs?.[engine.name].append('M', key, value!);
        return { status: 'OK', message: 'Modified successfully' };
      default:
        return engine.has(key)
          ? { status: 'EXIST', message: 'Key exists' }
          : { status: 'NO_EXIST', message: 'Key not found' };
    }
  }

  /** RRANGE from "to [limit]" and RPREFIX prefix "[limit]". */
  private scan(op: 'RANGE' | 'PREFIX', key: string, value: string | undefined): KvReply {
    const words = (value ?? '').trim().split(/\s+/).filter(Boolean);
    if (op === 'RANGE') {
      if (words.length === 0 || words.length > 2) return invalid('Usage: RRANGE from to [limit]');
      const limit = parseLimit(words[1]);
      if (limit === undefined) return invalid(`Limit must be a number from 1 to ${MAX_LIST}`);
      const entries = this.tree.range(key, words[0], limit);
      return { status: 'OK', message: `${entries.length} keys`, result: entries };
    }
    if (words.length > 1) return invalid('Usage: RPREFIX prefix [limit]');
    const limit = parseLimit(words[0]);
    if (limit === undefined) return invalid(`Limit must be a number from 1 to ${MAX_LIST}`);
    const entries = this.tree.scan(key, undefined, limit);
    return { status: 'OK', message: `${entries.length} keys`, result: entries };
  }
}

/** An optional page size: absent means 100. */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return 100;
  if (!/^\d{1,4}$/.test(text)) return undefined;
  const limit = Number(text);
  return limit >= 1 && limit <= MAX_LIST ? limit : undefined;
}
