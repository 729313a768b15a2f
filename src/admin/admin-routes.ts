import { handleTreeKeys, kvCommandReply } from '../kv/kv-http.js';
import type { KvStore } from '../kv/kv-store.js';
import { sendJson, type AdminServer } from './admin-server.js';

/** One node as the cluster view shows it (its lease in the shared presence store). */
export interface ClusterNodeInfo {
  readonly nodeId: string;
  readonly startedAt: number;
  readonly sessions: number;
}

/** What the admin routes read from the rest of the node, as plain values and functions. */
export interface AdminRouteSources {
  readonly nodeId: string;
  /** The mode line of the start-up log (embedded, MySQL, cluster). */
  readonly mode: string;
  readonly kv: KvStore;
  /** The node's metrics registry (prom-client's `Registry` fits). */
  readonly metrics: { metrics(): Promise<string>; readonly contentType: string };
  /** Open chat connections by transport. */
  readonly connections: () => Readonly<Record<string, number>>;
  /** Logged-in sessions on this node. */
  readonly sessions: () => number;
  readonly messagesPerS: () => number;
  /** Every live node of the cluster; absent when the node runs alone. */
  readonly nodeInfos?: (() => Promise<readonly ClusterNodeInfo[]>) | undefined;
}

/**
 * The admin plane's routes beyond health: the KV API, readiness, this node's cluster view and the
 * Prometheus scrape.
 */
export function registerAdminRoutes(admin: AdminServer, sources: AdminRouteSources): void {
  const { kv } = sources;
  admin.fastRoute('POST /api/kv', (body) => kvCommandReply(kv, body));
  admin.fastRoute('GET /api/stats', () => ({ status: 200, json: kv.statsJson() }));
  admin.route('GET /api/kv/rbtree/keys', (request, response) =>
    handleTreeKeys(kv, request, response, sendJson),
  );
  admin.route('GET /readyz', (_request, response) =>
    sendJson(response, admin.isDraining ? 503 : 200, {
      status: admin.isDraining ? 'draining' : 'ready',
      mode: sources.mode,
    }),
  );
  admin.route('GET /api/cluster', async (_request, response) => {
    const here = {
      nodeId: sources.nodeId,
      mode: sources.mode,
      uptimeS: Math.round(process.uptime()),
      connections: sources.connections(),
      sessions: sources.sessions(),
      messagesPerS: sources.messagesPerS(),
    };
    // The cluster view is best effort: a node that cannot reach the presence store still shows itself.
    const nodes = (await sources.nodeInfos?.().catch(() => [])) ?? [];
    sendJson(response, 200, { status: 'OK', data: { node: here, nodes } });
  });
  admin.route('GET /metrics', async (_request, response) => {
    const body = await sources.metrics.metrics();
    response.writeHead(200, {
      'Content-Type': sources.metrics.contentType,
      'Content-Length': Buffer.byteLength(body),
    });
    response.end(body);
  });
}
