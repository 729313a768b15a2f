import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { ParleyClient, type ChatMessage } from '../../src/client/parley-client.js';
import { registerStorePoolMetrics } from '../../src/metrics.js';
import { once } from '../helpers/events.js';
import { startTestApp } from '../helpers/test-app.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

const HISTOGRAMS = [
  'parley_request_duration_seconds',
  'parley_store_append_duration_seconds',
  'parley_store_append_batch_duration_seconds',
  'parley_store_append_batch_messages',
  'parley_bus_publish_to_receive_seconds',
  'parley_delivery_latency_seconds',
];

/** `# TYPE name type` lines of a Prometheus text exposition. */
function types(exposition: string): Map<string, string> {
  return new Map(
    [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
}

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function sample(exposition: string, series: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

let app: RunningApp;
let scrape: () => Promise<string>;
beforeAll(async () => {
  app = await startTestApp();
  scrape = async () => (await fetch(`http://127.0.0.1:${app.adminPort}/metrics`)).text();
});
afterAll(() => app?.stop());

async function login(name: string): Promise<ParleyClient> {
  const client = new ParleyClient({ host: '127.0.0.1', port: app.chatPort, transport: 'tcp' });
  await client.connect();
  await client.register(name, 'pw');
  await client.login({ name }, 'pw');
  return client;
}

describe('metrics of a node', () => {
  it('follow Prometheus naming: every counter ends in _total and nothing else does; no double prefix', async () => {
    const found = types(await scrape());
    expect(found.size).toBeGreaterThan(20);
    for (const [name, type] of found) {
      expect({ name, type, total: name.endsWith('_total') }).toEqual({
        name,
        type,
        total: type === 'counter',
      });
      expect(name).not.toMatch(/process_process|parley_process|parley_nodejs/);
    }
    expect(found.get('process_cpu_seconds_total')).toBe('counter');
    expect(found.get('nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
    expect(found.get('parley_messages_total')).toBe('counter');
    expect(found.get('parley_bus_subscriptions')).toBe('gauge');
    for (const name of HISTOGRAMS) expect(found.get(name), name).toBe('histogram');
  });

  it('count messages as real counters and time requests, appends and deliveries', async () => {
    const [alice, bob] = [await login(`alice-${Date.now()}`), await login(`bob-${Date.now()}`)];
    const before = await scrape();
    const got = once<[ChatMessage]>(bob, 'message');
    await alice.sendTo(bob.user!.id, 'hello');
    await got;
    const after = await scrape();
    const added = (series: string) => sample(after, series) - (sample(before, series) || 0);
    expect(added('parley_messages_total{outcome="stored"}')).toBe(1);
    expect(added('parley_inbox_entries_total')).toBe(1);
    expect(added('parley_bus_events_published_total')).toBe(1);
    expect(added('parley_request_duration_seconds_count{command="ONE_CHAT"}')).toBe(1);
    expect(sample(before, 'parley_request_duration_seconds_count{command="LOGIN"}')).toBe(2);
    expect(added('parley_store_append_duration_seconds_count')).toBe(1);
    expect(added('parley_delivery_latency_seconds_count{path="live"}')).toBe(1);
    expect(sample(after, 'parley_delivery_latency_seconds_bucket{le="+Inf",path="live"}')).toBe(1);
    // A counter only grows: a second message adds one.
    const again = once<[ChatMessage]>(bob, 'message');
    await alice.sendTo(bob.user!.id, 'again');
    await again;
    expect(sample(await scrape(), 'parley_messages_total{outcome="stored"}')).toBe(
      sample(after, 'parley_messages_total{outcome="stored"}') + 1,
    );
    alice.close();
    bob.close();
  });

  it('are all documented in docs/OPERATIONS.md', async () => {
    const operations = read('docs/OPERATIONS.md');
    const pool = new Registry();
    registerStorePoolMetrics(pool, () => ({}));
    const names = [...types(await scrape()).keys(), ...types(await pool.metrics()).keys()].filter((n) =>
      n.startsWith('parley_'),
    );
    expect(names.length).toBeGreaterThan(15);
    expect(names.filter((name) => !operations.includes(`\`${name}\``))).toEqual([]);
  });
});

describe('the Grafana dashboard (deploy/grafana/parley-dashboard.json)', () => {
  interface Panel {
    readonly type: string;
    readonly title: string;
    readonly targets?: readonly { readonly expr: string }[];
  }
  const dashboard = JSON.parse(read('deploy/grafana/parley-dashboard.json')) as {
    uid: string;
    panels: Panel[];
  };

  it('queries only metrics that a node exposes (MySQL pool gauges included)', async () => {
    const pool = new Registry();
    registerStorePoolMetrics(pool, () => ({}));
    const exposed = new Map([...types(await scrape()), ...types(await pool.metrics())]);
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    const referenced = new Set<string>();
    for (const expr of exprs) {
      for (const [token] of expr.matchAll(/\b(?:parley|process|nodejs)_[a-z0-9_]+/g)) {
        const base = token.replace(/_(bucket|sum|count)$/, '');
        const name = exposed.get(base) === 'histogram' ? base : token;
        expect(exposed.has(name), `${token} in ${expr}`).toBe(true);
        referenced.add(name);
      }
    }
    // Every latency histogram has a panel.
    for (const name of HISTOGRAMS) expect(referenced, name).toContain(name);
  });

  it('is a dashboard with titled panels on a datasource variable', () => {
    expect(dashboard.uid).toBe('parley-overview');
    for (const panel of dashboard.panels) {
      expect(panel.title).not.toBe('');
      if (panel.type !== 'row') expect(panel.targets?.length).toBeGreaterThan(0);
    }
    expect(read('deploy/grafana/parley-dashboard.json')).toContain('"uid": "${datasource}"');
  });
});
