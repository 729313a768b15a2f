/**
 * The pure parts of the v1 benchmark (bench/chat-v1.ts): pairing users by where they actually landed,
 * latency percentiles, and Parley ÷ relay ratios. No sockets, no processes.
 */

/** Where a user's sends count: both ends on one node, on two, or placement unknown. */
export type PairClass = 'same' | 'cross' | 'unknown';

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Count and p50/p90/p99 (ms, two decimals) of an ascending array of latencies. */
export function latencySummary(sorted: ArrayLike<number>): {
  n: number;
  p50: number;
  p90: number;
  p99: number;
} {
  const at = (p: number) => Math.round(percentile(sorted, p) * 100) / 100;
  return { n: sorted.length, p50: at(50), p90: at(90), p99: at(99) };
}

/**
 * Pairs of user indexes with both users on the same node wherever possible: users grouped by node, paired
 * within their group; the one left over in a group of odd size, and users of unknown placement, are paired
 * with each other. Needs an even number of users.
 */
export function sameNodePairs(nodes: readonly (string | undefined)[]): [number, number][] {
  if (nodes.length % 2 !== 0) throw new Error('pairs need an even number of users');
  const byNode = new Map<string, number[]>();
  const leftovers: number[] = [];
  nodes.forEach((node, i) => {
    if (node === undefined) leftovers.push(i);
    else byNode.set(node, [...(byNode.get(node) ?? []), i]);
  });
  const pairs: [number, number][] = [];
  for (const group of byNode.values()) {
    for (let i = 0; i + 1 < group.length; i += 2) pairs.push([group[i]!, group[i + 1]!]);
    if (group.length % 2 === 1) leftovers.push(group.at(-1)!);
  }
  for (let i = 0; i < leftovers.length; i += 2) pairs.push([leftovers[i]!, leftovers[i + 1]!]);
  return pairs;
}

/** Random pairs of `count` users (Fisher–Yates over the indexes with `random` in [0, 1)). */
export function randomPairs(count: number, random: () => number = Math.random): [number, number][] {
  if (count % 2 !== 0) throw new Error('pairs need an even number of users');
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const pairs: [number, number][] = [];
  for (let i = 0; i < count; i += 2) pairs.push([order[i]!, order[i + 1]!]);
  return pairs;
}

/** The class of every user's sends under `pairs`, indexed like `nodes`. */
export function pairClasses(
  pairs: readonly (readonly [number, number])[],
  nodes: readonly (string | undefined)[],
): PairClass[] {
  const classes = new Array<PairClass>(nodes.length).fill('unknown');
  for (const [a, b] of pairs) {
    const na = nodes[a];
    const nb = nodes[b];
    const cls: PairClass = na === undefined || nb === undefined ? 'unknown' : na === nb ? 'same' : 'cross';
    classes[a] = cls;
    classes[b] = cls;
  }
  return classes;
}

/**
 * The node id in a presence lease value (`<encoded node id>/<session>/…`, src/redis/redis-presence.ts), or
 * a JSON value's `node`/`nodeId` (older builds); undefined for anything else.
 */
export function presenceNode(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  if (value.startsWith('{')) {
    try {
      const js = JSON.parse(value) as { node?: unknown; nodeId?: unknown };
      const node = js.node ?? js.nodeId;
      return typeof node === 'string' ? node : undefined;
    } catch {
      return undefined;
    }
  }
  const slash = value.indexOf('/');
  if (slash <= 0) return undefined;
  try {
    return decodeURIComponent(value.slice(0, slash));
  } catch {
    return undefined;
  }
}

/** Nested figures flattened to `a.b.c` keys, numbers only (what can be compared and divided). */
export function flattenFigures(value: unknown, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof value === 'number') {
    if (Number.isFinite(value)) out.set(prefix, value);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>))
      for (const [k, v] of flattenFigures(inner, prefix ? `${prefix}.${key}` : key)) out.set(k, v);
  }
  return out;
}

/**
 * Parley ÷ relay for every figure both have, per sitting pair (runs i of each, in the order they ran):
 * `{ figure: [ratio of pair 1, ratio of pair 2, …] }`. A zero or missing relay figure gives no ratio.
 */
export function ratios(
  parley: readonly Map<string, number>[],
  relay: readonly Map<string, number>[],
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const pairs = Math.min(parley.length, relay.length);
  for (let i = 0; i < pairs; i++)
    for (const [key, value] of parley[i]!) {
      const base = relay[i]!.get(key);
      if (base === undefined || base === 0) continue;
      out.set(key, [...(out.get(key) ?? []), Math.round((value / base) * 100) / 100]);
    }
  return out;
}

/** `lo–hi` of a list of numbers (one value alone, `–` for none), as the side-by-side tables write them. */
export function range(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}
