import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { KvStore } from './kv/kv-store.js';
import type { ChatServer } from './net/chat-server.js';
import type { ChatServices } from './service/chat-services.js';
import type { ChatStore, MessageBus } from './service/ports.js';

/**
 * prom-client's default metrics that are gauges named `*_total` (the sum over the `type` label of the
 * metric of the same name without `_total`): removed, so that every `*_total` is a counter.
 */
const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * A counter whose value is read from a monotonic source when scraped (the components count in plain
 * numbers on their hot paths; prom-client is only touched here).
 */
function sourcedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => readonly (readonly [Partial<Record<L, string>>, number])[],
): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/**
 * Prometheus metrics of one node. One registry per app instance, so several nodes can run in one test
 * process. Values are read from the components when scraped; labels never carry user ids. Naming follows
 * Prometheus: counters end in `_total` and nothing else does, one metric per meaning, base units.
 */
export function createMetrics(
  chatServer: ChatServer,
  services: ChatServices,
  store: ChatStore,
  kv: KvStore,
  bus: MessageBus,
): Registry {
  const registry = new Registry();
  // Unprefixed, as every Node.js exporter names them (process_*, nodejs_*), so stock dashboards work.
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);

  new Gauge({
    name: 'parley_connections',
    help: 'Open chat connections by transport',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const { connections } = chatServer.stats();
      this.set({ transport: 'tcp' }, connections.tcp);
      this.set({ transport: 'ws' }, connections.ws);
    },
  });
  new Gauge({
    name: 'parley_sessions',
    help: 'Logged-in sessions on this node',
    registers: [registry],
    collect() {
      this.set(services.sessions.size);
    },
  });
  const closed = new Counter({
    name: 'parley_connections_closed_total',
    help: 'Closed chat connections by reason (CLIENT_CLOSED or an error code)',
    labelNames: ['reason', 'transport'],
    registers: [registry],
  });
  chatServer.on('connection-closed', ({ reason, transport }) => closed.inc({ reason, transport }));

  const counts = services.messages.counts;
  sourcedCounter(
    registry,
    'parley_messages_total',
    'Chat messages sent through this node: stored, or a duplicate resend of a stored one (same cmid)',
    ['outcome'],
    () => [
      [{ outcome: 'stored' }, counts.stored],
      [{ outcome: 'duplicate' }, counts.duplicates],
    ],
  );
  sourcedCounter(
    registry,
    'parley_inbox_entries_total',
    "Inbox entries written by this node's sends (one per recipient: the fan-out)",
    [],
    () => [[{}, counts.inboxEntries]],
  );

  if (store.stats) {
    const pool = () => store.stats?.() ?? {};
    new Gauge({
      name: 'parley_store_pool_connections',
      help: 'Store (MySQL) pool connections by state: idle or in_use',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const stats = pool();
        this.set({ state: 'idle' }, stats.available ?? 0);
        this.set({ state: 'in_use' }, stats.borrowed ?? 0);
      },
    });
    new Gauge({
      name: 'parley_store_pool_max_connections',
      help: 'Store (MySQL) pool size limit (MYSQL_POOL_SIZE)',
      registers: [registry],
      collect() {
        this.set(pool().max ?? 0);
      },
    });
    new Gauge({
      name: 'parley_store_pool_waiting_requests',
      help: 'Requests waiting for a store (MySQL) pool connection',
      registers: [registry],
      collect() {
        this.set(pool().pending ?? 0);
      },
    });
  }

  new Gauge({
    name: 'parley_bus_subscriptions',
    help: 'Users with a bus subscription on this node (one channel each)',
    registers: [registry],
    collect() {
      this.set(bus.stats().subscriptions);
    },
  });
  sourcedCounter(
    registry,
    'parley_bus_events_published_total',
    'Bus events published by this node',
    [],
    () => [[{}, bus.stats().published]],
  );
  sourcedCounter(
    registry,
    'parley_bus_events_received_total',
    'Bus events received by this node (from other nodes, and its own local short cut)',
    [],
    () => [[{}, bus.stats().received]],
  );
  sourcedCounter(
    registry,
    'parley_bus_publish_failures_total',
    'Bus events that could not be published (Redis away); their users are poked to catch up later',
    [],
    () => [[{}, bus.stats().publishFailures]],
  );

  sourcedCounter(
    registry,
    'parley_kv_ops_total',
    'KV commands executed, by outcome (ok, or error: the reply was ERROR)',
    ['outcome'],
    () => [
      [{ outcome: 'ok' }, kv.ops.total - kv.ops.errors],
      [{ outcome: 'error' }, kv.ops.errors],
    ],
  );
  new Gauge({
    name: 'parley_kv_entries',
    help: 'KV entries per engine',
    labelNames: ['engine'],
    registers: [registry],
    collect() {
      for (const [engine, stats] of Object.entries(kv.stats().data)) this.set({ engine }, stats.count);
    },
  });
  return registry;
}
