import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { KvStore } from './kv/kv-store.js';
import type { ChatServer } from './net/chat-server.js';
import type { ChatServices } from './service/chat-services.js';
import type { ChatStore, MessageBus } from './service/ports.js';

/**
 * Prometheus metrics of one node. One registry per app instance, so several nodes can run in one test
 * process. Values are read from the components when scraped; labels never carry user ids.
 */
export function createMetrics(
  chatServer: ChatServer,
  services: ChatServices,
  store: ChatStore,
  kv: KvStore,
  bus: MessageBus,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_process_' });

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
  new Gauge({
    name: 'parley_messages_total',
    help: 'Chat messages handled by this node: stored, duplicate resends, inbox entries written',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const counts = services.messages.counts;
      this.set({ kind: 'stored' }, counts.stored);
      this.set({ kind: 'duplicate' }, counts.duplicates);
      this.set({ kind: 'inbox_entry' }, counts.inboxEntries);
    },
  });
  new Gauge({
    name: 'parley_store_pool',
    help: 'Store connection pool: size, available, borrowed, pending, max',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      for (const [stat, value] of Object.entries(store.stats?.() ?? {})) this.set({ stat }, value);
    },
  });
  new Gauge({
    name: 'parley_bus',
    help: 'Node-to-node bus: users subscribed here, events published and received, failed publishes',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      for (const [stat, value] of Object.entries(bus.stats())) this.set({ stat }, value);
    },
  });
  new Gauge({
    name: 'parley_kv_ops_total',
    help: 'KV commands executed, and how many answered ERROR',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.set({ outcome: 'all' }, kv.ops.total);
      this.set({ outcome: 'error' }, kv.ops.errors);
    },
  });
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
