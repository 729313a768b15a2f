import { describe, expect, it } from 'vitest';
import {
  flattenFigures,
  latencySummary,
  pairClasses,
  percentile,
  presenceNode,
  randomPairs,
  range,
  ratios,
  sameNodePairs,
} from '../../../bench/lib/v1-figures.js';

/** Every index exactly once over the pairs. */
function covered(pairs: readonly (readonly [number, number])[]): number[] {
  return pairs.flat().sort((a, b) => a - b);
}

describe('v1 benchmark figures', () => {
  it('takes nearest-rank percentiles of an ascending array', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 90)).toBe(90);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(latencySummary([1, 2, 3, 4])).toEqual({ n: 4, p50: 2, p90: 4, p99: 4 });
  });

  it('pairs users on the same node, and only leftovers across nodes', () => {
    const nodes = ['a', 'b', 'a', 'a', 'b', 'b', 'a', undefined, 'b', 'c'];
    const pairs = sameNodePairs(nodes);
    expect(covered(pairs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const classes = pairClasses(pairs, nodes);
    // a: 4 users (2 pairs), b: 4 users (2 pairs), leftovers: the unknown one and c.
    expect(classes.filter((c) => c === 'same')).toHaveLength(8);
    expect(classes[7]).toBe('unknown');
    expect(classes[9]).toBe('unknown');
  });

  it('pairs an odd node group across nodes and says so', () => {
    const nodes = ['a', 'a', 'a', 'b', 'b', 'b'];
    const classes = pairClasses(sameNodePairs(nodes), nodes);
    expect(classes.filter((c) => c === 'same')).toHaveLength(4);
    expect(classes.filter((c) => c === 'cross')).toHaveLength(2);
    expect(() => sameNodePairs(['a'])).toThrow(/even/);
  });

  it('pairs at random with every user once, from the given random source', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const pairs = randomPairs(1000, random);
    expect(covered(pairs)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // About half of random pairs of users split over two nodes cross them.
    const nodes = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? 'a' : 'b'));
    const cross = pairClasses(pairs, nodes).filter((c) => c === 'cross').length / 2;
    expect(cross).toBeGreaterThan(200);
    expect(cross).toBeLessThan(300);
  });

  it('reads the node out of a presence lease', () => {
    expect(presenceNode('node-1/s123/-/0/1700000000000')).toBe('node-1');
    expect(presenceNode('node%2F1/s/')).toBe('node/1');
    expect(presenceNode('{"node":"n2"}')).toBe('n2');
    expect(presenceNode(null)).toBeUndefined();
    expect(presenceNode('garbage')).toBeUndefined();
    expect(presenceNode('{broken')).toBeUndefined();
  });

  it('divides each figure by the relay of the same sitting pair', () => {
    const flat = (o: unknown) => flattenFigures(o);
    expect([...flat({ a: 1, b: { c: 2, d: NaN, e: 'x' } })]).toEqual([
      ['a', 1],
      ['b.c', 2],
    ]);
    const parley = [flat({ rate: 10, lat: { p50: 4 } }), flat({ rate: 9, lat: { p50: 6 } })];
    const relay = [flat({ rate: 20, lat: { p50: 2 } }), flat({ rate: 18, lat: { p50: 0 } })];
    const byFigure = ratios(parley, relay);
    expect(byFigure.get('rate')).toEqual([0.5, 0.5]);
    // A zero relay figure gives no ratio rather than Infinity.
    expect(byFigure.get('lat.p50')).toEqual([2]);
    expect(range([0.5, 0.48, 0.52])).toBe('0.48–0.52');
    expect(range([3])).toBe('3');
    expect(range([])).toBe('–');
  });
});
