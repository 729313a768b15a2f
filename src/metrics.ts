import { LeanHistogram } from './lean-histogram.js';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { KvStore } from './kv/kv-store.js';
import type { ChatServer } from './net/chat-server.js';
import type { ChatServices } from './service/chat-services.js';
import type { ChatStore, MessageBus } from './service/ports.js';
import { preciseWallClockMs, type Telemetry } from './service/telemetry.js';
import type { Clock } from './util/clock.js';

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
 * The registry of one app instance (so several nodes can run in one test process), with prom-client's
 * default process metrics. Naming follows Prometheus: counters end in `_total` and nothing else does, one
 * metric per meaning, base units (seconds, bytes). Every metric is listed in docs/OPERATIONS.md.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  // Unprefixed, as every Node.js exporter names them (process_*, nodejs_*), so stock dashboards work.
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);
  return registry;
}

/** Buckets (seconds) for work on this node: a ping takes ~50 µs, a bcrypt login ~50 ms, a slow store seconds. */
const LOCAL_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** Buckets (seconds) for a message's way to a recipient: live ones take milliseconds, catch-ups up to minutes. */
const DELIVERY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/**
 * The Telemetry port backed by Prometheus histograms in `registry`. Latencies across processes compare
 * two wall clocks (the publisher's and the receiver's): on one host they agree; across hosts they are as
 * good as NTP keeps them, and a negative difference counts as 0.
 */
export function createTelemetry(registry: Registry, clock: Clock): Telemetry {
  const requests = new LeanHistogram(
    'parley_request_duration_seconds',
    'Time to handle one request frame, from dispatch to its reply or error, by command (msgid name; INVALID, UNKNOWN)',
    LOCAL_BUCKETS,
    registry,
  );
  const byCommand = new Map<string, (seconds: number) => void>();
  const appends = new LeanHistogram(
    'parley_store_append_duration_seconds',
    'Time to store one message and its inbox entries (MessageStore.append as the service sees it, batch wait included)',
    LOCAL_BUCKETS,
    registry,
  ).series();
  const batches = new LeanHistogram(
    'parley_store_append_batch_duration_seconds',
    'Time of one append batch write (MySQL: one procedure call and commit, retries included)',
    LOCAL_BUCKETS,
    registry,
  ).series();
  const batchSizes = new LeanHistogram(
    'parley_store_append_batch_messages',
    'Messages per append batch write (MySQL group commit)',
    [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registry,
  ).series();
  const bus = new LeanHistogram(
    'parley_bus_publish_to_receive_seconds',
    'Time from a bus publish on another node to its receipt here (Redis pub/sub hop)',
    LOCAL_BUCKETS,
    registry,
  ).series();
  const delivery = new LeanHistogram(
    'parley_delivery_latency_seconds',
    "Time from a message's acceptance (its createdAt) to its write to a recipient's socket, by path (live, catch_up)",
    DELIVERY_BUCKETS,
    registry,
  );
  const deliveredLive = delivery.series({ path: 'live' });
  const deliveredCatchUp = delivery.series({ path: 'catch_up' });
  const since = (thenMs: number, nowMs: number) => Math.max(0, nowMs - thenMs) / 1000;
  return {
    requestHandled: (command, seconds) => {
      let observe = byCommand.get(command);
      if (!observe) {
        observe = requests.series({ command });
        byCommand.set(command, observe);
      }
      observe(seconds);
    },
    messageAppended: (seconds) => appends(seconds),
    appendBatchWritten: (messages, seconds) => {
      batches(seconds);
      batchSizes(messages);
    },
    busEventReceived: (publishedAtMs) => bus(since(publishedAtMs, preciseWallClockMs())),
    messageDelivered: (path, acceptedAtMs) =>
      (path === 'live' ? deliveredLive : deliveredCatchUp)(since(acceptedAtMs, clock.now())),
  };
}

/**
 * The gauges and counters of one node, read from the components when scraped; labels never carry user
 * ids.
 */
export function createMetrics(
  registry: Registry,
  chatServer: ChatServer,
  services: ChatServices,
  store: ChatStore,
  kv: KvStore,
  bus: MessageBus,
): Registry {
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
  sourcedCounter(
    registry,
    'parley_connections_refused_total',
    'Sockets refused before they became connections: a PROXY header from an untrusted address, a malformed one from a trusted proxy, or over MAX_CONNECTIONS_PER_IP',
    ['reason'],
    () => {
      const { refused } = chatServer.stats();
      return [
        [{ reason: 'untrusted_proxy_header' }, refused.proxy],
        [{ reason: 'malformed_proxy_header' }, refused.badProxyHeader],
        [{ reason: 'per_ip_limit' }, refused.perIp],
      ];
    },
  );

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

  const cache = services.auth.cacheCounts;
  sourcedCounter(
    registry,
    'parley_auth_cache_total',
    'Password logins of known users by verified-credential cache outcome: hit (no bcrypt), miss (bcrypt), unavailable (Redis did not answer; bcrypt)',
    ['outcome'],
    () => [
      [{ outcome: 'hit' }, cache.hit],
      [{ outcome: 'miss' }, cache.miss],
      [{ outcome: 'unavailable' }, cache.unavailable],
    ],
  );

  const presence = services.presenceNotifier.counts;
  sourcedCounter(
    registry,
    'parley_presence_changes_total',
    'Presence changes (online/offline) this node reported to friends, the bus events that took, and offlines not told because the user was back within PRESENCE_GRACE_MS',
    ['kind'],
    () => [
      [{ kind: 'change' }, presence.changes],
      [{ kind: 'event' }, presence.events],
      [{ kind: 'flicker' }, presence.flickers],
    ],
  );
  const live = services.live.counts;
  sourcedCounter(
    registry,
    'parley_live_notices_total',
    'Typing notices relayed (one per recipient) and read markers moved through this node',
    ['kind'],
    () => [
      [{ kind: 'typing' }, live.typing],
      [{ kind: 'read' }, live.reads],
    ],
  );

  if (store.stats) registerStorePoolMetrics(registry, () => store.stats?.() ?? {});

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

/** The connection pool gauges of a store that has one (MySQL): idle/in-use connections, limit, waiters. */
export function registerStorePoolMetrics(
  registry: Registry,
  pool: () => Readonly<Record<string, number>>,
): void {
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
