import { afterEach, describe, expect, it } from 'vitest';
import { startRelay, type V1Target } from '../../bench/lib/v1-targets.js';
import { pairClasses } from '../../bench/lib/v1-figures.js';
import { LegacyTraffic } from '../../scripts/lib/legacy-traffic.js';

// The bench:v1 ceiling (two bare relays behind the cluster's nginx template) and the parts of the v1 load
// it relies on: placement from the login reply, explicit pairs, latencies split by class, one in flight.

let relay: V1Target | undefined;
let traffic: LegacyTraffic | undefined;
afterEach(async () => {
  traffic?.close();
  traffic = undefined;
  await relay?.stop();
  relay = undefined;
});

/** Waits until `done()` holds, checking on every turn of the event loop's timers. */
async function until(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('bench:v1 relay and load', () => {
  it('delivers between users of one relay and across the two, every message once, classed by placement', async () => {
    relay = await startRelay({ env: {}, inspect: false });
    traffic = new LegacyTraffic({ host: '127.0.0.1', port: relay.port, clients: 8, window: 2 });
    await traffic.connect();
    const nodes = await relay.placement(traffic.roster());
    expect(new Set(nodes)).toEqual(new Set(['relay-1', 'relay-2']));
    // Users ordered by node and paired first with last: at least one pair spans the two relays.
    const order = nodes.map((node, i) => ({ node: node!, i })).sort((a, b) => a.node.localeCompare(b.node));
    const pairs = Array.from({ length: 4 }, (_, k) => [order[k]!.i, order[7 - k]!.i] as const);
    const classes = pairClasses(pairs, nodes);
    expect(classes).toContain('cross');
    traffic.pair(pairs);
    traffic.classify(classes);
    traffic.start();
    await until(() => traffic!.report().delivered >= 200);
    traffic.stop();
    const report = await traffic.drain(5000);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, reordered: 0 });
    expect(report.delivered).toBe(report.sent);
    expect(report.latenciesByClass.cross!.length).toBeGreaterThan(0);
    const classed = Object.values(report.latenciesByClass).reduce((n, list) => n + list.length, 0);
    expect(classed).toBe(report.latenciesMs.length);
  });

  it('keeps exactly one message on its way in the whole load with inFlight 1, senders taking turns', async () => {
    relay = await startRelay({ env: {}, inspect: false });
    traffic = new LegacyTraffic({ host: '127.0.0.1', port: relay.port, clients: 6, inFlight: 1 });
    await traffic.connect();
    traffic.start();
    let most = 0;
    const sampler = setInterval(() => {
      const { sent, delivered } = traffic!.report();
      most = Math.max(most, sent - delivered);
    }, 1);
    await until(() => traffic!.report().delivered >= 100);
    clearInterval(sampler);
    traffic.stop();
    const report = await traffic.drain(5000);
    expect(most).toBe(1);
    expect(report).toMatchObject({ lost: 0, duplicates: 0 });
    expect(report.delivered).toBe(report.sent);
  });

  it('refuses pairs that leave a user out or name one twice', async () => {
    relay = await startRelay({ env: {}, inspect: false });
    traffic = new LegacyTraffic({ host: '127.0.0.1', port: relay.port, clients: 4 });
    await traffic.connect();
    expect(() => traffic!.pair([[0, 1]])).toThrow(/partner/);
    expect(() =>
      traffic!.pair([
        [0, 1],
        [1, 2],
      ]),
    ).toThrow(/twice/);
  });
});
