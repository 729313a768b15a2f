import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import type { Logger } from '../logger.js';

export type AdminRoute = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization',
  'Access-Control-Max-Age': '600',
};

/** JSON reply with the headers every admin endpoint shares (CORS like the original KV server, no caching). */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    ...CORS,
  });
  response.end(json);
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface AdminServerOptions {
  /** When set, /api/* requires `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Static files of the web admin page (served at / and /kv/). */
  readonly webDir?: string | undefined;
}

/**
 * The admin HTTP plane (127.0.0.1 by default): health, metrics, the KV API and the web page. Routes are
 * registered by their subsystems. `/kv/api/*` is an alias of `/api/*` (the original page calls those
 * paths); every `/api/*` answer carries CORS headers and preflights are answered. Keep-alive is on.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly routes = new Map<string, AdminRoute>();
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private draining = false;

  constructor(
    private readonly logger: Logger,
    private readonly options: AdminServerOptions = {},
  ) {
    this.server = createServer((request, response) => this.onRequest(request, response));
    this.server.keepAliveTimeout = 30_000;
    this.route('GET /healthz', (_request, response) => {
      sendJson(response, this.draining ? 503 : 200, { status: this.draining ? 'draining' : 'ok' });
    });
    if (options.webDir) {
      // A fixed set of files read once: no path from a request ever reaches the file system.
      for (const name of readdirSync(options.webDir)) {
        const type = CONTENT_TYPES[extname(name)];
        if (type) this.files.set(`/${name}`, { body: readFileSync(join(options.webDir, name)), type });
      }
    }
  }

  /** Registers `METHOD /path`. */
  route(key: string, handler: AdminRoute): void {
    this.routes.set(key, handler);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** From now on /healthz answers 503, so load balancers stop sending new clients. */
  setDraining(): void {
    this.draining = true;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    let path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/kv/api/')) path = path.slice(3);
    const isApi = path.startsWith('/api/');
    if (method === 'OPTIONS') {
      response.writeHead(204, CORS);
      response.end();
      return;
    }
    if (isApi && this.options.token && request.headers.authorization !== `Bearer ${this.options.token}`) {
      sendJson(response, 401, { status: 'ERROR', message: 'Authorization: Bearer <ADMIN_TOKEN> required' });
      return;
    }
    const handler = this.routes.get(`${method} ${path}`);
    if (handler) {
      Promise.resolve(handler(request, response)).catch((error: unknown) => {
        this.logger.error({ err: error, path }, 'admin request failed');
        if (!response.headersSent) sendJson(response, 500, { status: 'ERROR', message: 'internal error' });
        else response.destroy();
      });
      return;
    }
    const file = method === 'GET' ? this.staticFile(path) : undefined;
    if (file) {
      response.writeHead(200, {
        'Content-Type': file.type,
        'Content-Length': file.body.length,
        'Cache-Control': 'no-cache',
      });
      response.end(file.body);
      return;
    }
    sendJson(response, 404, {
      status: 'ERROR',
      message:
        'API endpoint not found. This is a backend API server. Supported endpoints: POST /api/kv, GET /api/stats',
    });
  }

  private staticFile(path: string): { body: Buffer; type: string } | undefined {
    const local = path.startsWith('/kv/') ? path.slice(3) : path === '/kv' ? '/' : path;
    return this.files.get(local === '/' ? '/index.html' : local);
  }
}
