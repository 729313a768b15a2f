import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join } from 'node:path';
import type { Logger } from '../logger.js';
import { FastLane, type FastRoute } from './http-fast-lane.js';
import { BodyTooLargeError, readBody } from './read-body.js';

export type AdminRoute = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization',
  'Access-Control-Max-Age': '600',
};

/** The same headers as one block of header lines, for the fast lane. */
const COMMON_HEADER_LINES = Object.entries({ 'Cache-Control': 'no-store', ...CORS })
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/** The answer to an /api/* call without the bearer token (on the fast lane and Node's http alike). */
const UNAUTHORIZED = {
  status: 401,
  json: JSON.stringify({ status: 'ERROR', message: 'Authorization: Bearer <ADMIN_TOKEN> required' }),
};

/** JSON reply with the headers every admin endpoint shares (CORS like the original KV server, no caching). */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendJsonText(response, status, JSON.stringify(body));
}

function sendJsonText(response: ServerResponse, status: number, json: string): void {
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
  /** Largest request body of a fast route (larger: 413). @default 65536 */
  readonly maxBodyBytes?: number;
  /** Idle keep-alive connections are closed after this long. @default 30000 */
  readonly keepAliveMs?: number;
}

/**
 * The admin HTTP plane (127.0.0.1 by default): health, metrics, the KV API and the web page. Routes are
 * registered by their subsystems. `/kv/api/*` is an alias of `/api/*` (the original page calls those
 * paths); every `/api/*` answer carries CORS headers and preflights are answered. Keep-alive is on.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly routes = new Map<string, AdminRoute>();
  private readonly fastRoutes = new Map<string, FastRoute>();
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private readonly lane: FastLane;
  private readonly maxBodyBytes: number;
  private draining = false;

  constructor(
    private readonly logger: Logger,
    private readonly options: AdminServerOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? 65_536;
    this.server = createServer((request, response) => this.onRequest(request, response));
    this.server.keepAliveTimeout = options.keepAliveMs ?? 30_000;
    this.lane = this.takeConnectionsOnFastLane();
    this.fastRoute('GET /healthz', () => ({
      status: this.draining ? 503 : 200,
      json: JSON.stringify({ status: this.draining ? 'draining' : 'ok' }),
    }));
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

  /**
   * Registers a synchronous JSON route (`METHOD /path`, body in, reply out) that the fast lane answers
   * itself; on connections handed to Node's http it is served the same way, body limit included.
   */
  fastRoute(key: string, handler: FastRoute): void {
    this.fastRoutes.set(key, handler);
    this.route(key, async (request, response) => {
      let body: string;
      try {
        body = await readBody(request, this.maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        return sendJson(response, 413, {
          status: 'ERROR',
          message: `Request body too large (at most ${this.maxBodyBytes} bytes)`,
        });
      }
      const reply = handler(body);
      sendJsonText(response, reply.status, reply.json);
    });
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
      this.lane.closeAll();
      setTimeout(() => {
        this.server.closeAllConnections();
        this.lane.destroyAll();
      }, 1000).unref();
    });
  }

  /**
   * New connections start on the fast lane; the first request it does not take hands the connection,
   * with the unanswered bytes, to Node's http connection handler (which owns it from then on).
   */
  private takeConnectionsOnFastLane(): FastLane {
    const httpHandlers = this.server.listeners('connection') as ((socket: Socket) => void)[];
    const lane = new FastLane({
      resolve: (method, path) => this.fastRoutes.get(`${method} ${apiPath(path)}`),
      refusal: (path, authorization) =>
        this.authorized(apiPath(path), authorization) ? undefined : UNAUTHORIZED,
      commonHeaders: COMMON_HEADER_LINES,
      maxBodyBytes: this.maxBodyBytes,
      idleTimeoutMs: this.server.keepAliveTimeout,
      handOff: (socket, unanswered) => {
        // Paused while Node's handler attaches, so the unanswered bytes are read first, in order.
        socket.pause();
        if (unanswered.length > 0) socket.unshift(unanswered);
        for (const handler of httpHandlers) handler.call(this.server, socket);
        socket.resume();
      },
    });
    this.server.removeAllListeners('connection');
    this.server.on('connection', (socket: Socket) => lane.serve(socket));
    return lane;
  }

  private authorized(path: string, authorization: string | undefined): boolean {
    return (
      !path.startsWith('/api/') || !this.options.token || authorization === `Bearer ${this.options.token}`
    );
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = apiPath((request.url ?? '/').split('?')[0] ?? '/');
    if (method === 'OPTIONS') {
      response.writeHead(204, CORS);
      response.end();
      return;
    }
    if (!this.authorized(path, request.headers.authorization)) {
      sendJsonText(response, UNAUTHORIZED.status, UNAUTHORIZED.json);
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

/** `/kv/api/*` is an alias of `/api/*` (the original page calls those paths). */
function apiPath(path: string): string {
  return path.startsWith('/kv/api/') ? path.slice(3) : path;
}
