import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { TlsTerminator } from '../util/tls-terminator.js';
import { bearerAuth, type AuthCheck } from './admin-auth.js';
import { CorsPolicy } from './admin-cors.js';
import { AdminPage } from './admin-page.js';
import { FastLane, type FastRoute } from './http-fast-lane.js';
import { BodyTooLargeError, readBody } from './read-body.js';

export type AdminRoute = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * Header lines every fast-lane reply carries. No CORS headers: a request with an `Origin` (a browser's)
 * never stays on the fast lane; Node's http path applies the CORS policy to it.
 */
const COMMON_HEADER_LINES = 'Cache-Control: no-store\r\n';

/** The answer to an /api/* call without the bearer token (on the fast lane and Node's http alike). */
const UNAUTHORIZED = {
  status: 401,
  json: JSON.stringify({ status: 'ERROR', message: 'Authorization: Bearer <ADMIN_TOKEN> required' }),
};

const EMPTY = Buffer.alloc(0);

/** An HTTPS client has this long to finish its TLS handshake. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A connection handed to Node's http server gets this inactivity limit (Node's own header and request
 * deadlines are checked only for connections its server accepted itself, and ours are accepted by the
 * listener in front of it).
 */
const HTTP_IDLE_TIMEOUT_MS = 60_000;

/** JSON reply with the headers every admin endpoint shares (no caching; CORS headers are set per request). */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendJsonText(response, status, JSON.stringify(body));
}

function sendJsonText(response: ServerResponse, status: number, json: string): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
  });
  response.end(json);
}

export interface AdminServerOptions {
  /** When set, /api/* requires `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Static files of the web admin page (served at / and /kv/). */
  readonly webDir?: string | undefined;
  /** Largest request body of a fast route (larger: 413). @default 65536 */
  readonly maxBodyBytes?: number;
  /** Idle keep-alive connections are closed after this long. @default 30000 */
  readonly keepAliveMs?: number;
  /** Serve the fast routes on the fast lane (false: every connection goes to Node's http). @default true */
  readonly fastLane?: boolean;
  /** Web origins (besides the page's own) allowed to call the admin plane from a browser. @default none */
  readonly corsOrigins?: readonly string[];
  /** Serve HTTPS (ADMIN_TLS_CERT/KEY): connections are decrypted before the fast lane sees them. */
  readonly tls?: TlsTerminator | undefined;
}

/**
 * The admin HTTP plane (127.0.0.1 by default): health, metrics, the KV API and the web page. Routes are
 * registered by their subsystems. `/kv/api/*` is an alias of `/api/*` (the original page calls those
 * paths). A browser request (one with an `Origin`) from another origin than the page's own is refused
 * unless that origin is listed (CorsPolicy); listed ones get CORS headers and preflight answers.
 * Keep-alive is on.
 *
 * A plain `net` listener accepts every connection and starts it on the fast lane; the first request the
 * lane does not take hands the connection to Node's http server with `emit('connection')`, the documented
 * way to give it a socket. That server never listens itself.
 */
export class AdminServer {
  private readonly listener: Server;
  private readonly http: HttpServer;
  private readonly routes = new Map<string, AdminRoute>();
  private readonly fastRoutes = new Map<string, FastRoute>();
  private readonly page: AdminPage;
  private readonly authorized: AuthCheck;
  private readonly lane: FastLane | undefined;
  /** Connections owned by Node's http server, with their requests in flight (for close()). */
  private readonly handedOff = new Map<Socket, number>();
  private readonly maxBodyBytes: number;
  private readonly cors: CorsPolicy;
  private readonly secure: boolean;
  private draining = false;

  constructor(
    private readonly logger: Logger,
    options: AdminServerOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? 65_536;
    this.cors = new CorsPolicy(options.corsOrigins ?? []);
    this.secure = options.tls !== undefined;
    this.authorized = bearerAuth(options.token);
    this.page = new AdminPage(options.webDir);
    this.http = createHttpServer({ keepAliveTimeout: options.keepAliveMs ?? 30_000 }, (request, response) =>
      this.onRequest(request, response),
    );
    this.http.timeout = HTTP_IDLE_TIMEOUT_MS;
    this.http.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const socket = request.socket;
      this.handedOff.set(socket, (this.handedOff.get(socket) ?? 0) + 1);
      response.once('close', () => {
        const inFlight = this.handedOff.get(socket);
        if (inFlight !== undefined) this.handedOff.set(socket, inFlight - 1);
      });
    });
    this.lane =
      options.fastLane === false
        ? undefined
        : new FastLane({
            resolve: (method, path) => this.fastRoutes.get(`${method} ${apiPath(path)}`),
            refusal: (path, authorization) =>
              this.authorized(apiPath(path), authorization) ? undefined : UNAUTHORIZED,
            commonHeaders: COMMON_HEADER_LINES,
            maxBodyBytes: this.maxBodyBytes,
            idleTimeoutMs: this.http.keepAliveTimeout,
            handOff: (socket, unanswered) => this.handOff(socket, unanswered),
          });
    // allowHalfOpen as in Node's http server: a client's FIN does not cut the replies still owed to it.
    const serve = (socket: Socket): void => {
      if (this.lane) this.lane.serve(socket);
      else this.handOff(socket, EMPTY);
    };
    const tls = options.tls;
    this.listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      if (tls === undefined) return serve(socket);
      // A handshake that does not finish in time is dropped (destroying the plain socket ends the TLS one).
      const timer = setTimeout(() => socket.destroy(), TLS_HANDSHAKE_TIMEOUT_MS).unref();
      socket.once('close', () => clearTimeout(timer));
      socket.on('error', () => {});
      tls.accept(socket, EMPTY, (secure) => {
        clearTimeout(timer);
        serve(secure);
      });
    });
    this.fastRoute('GET /healthz', () => ({
      status: this.draining ? 503 : 200,
      json: JSON.stringify({ status: this.draining ? 'draining' : 'ok' }),
    }));
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
      this.listener.once('error', reject);
      this.listener.listen({ host, port }, () => {
        this.listener.off('error', reject);
        resolve((this.listener.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Stops accepting, closes idle connections at once and the rest after their replies (at most 1 s
   * later); resolves when every connection is gone. Safe to call when the server never listened.
   */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.listener.close(() => resolve());
      this.lane?.closeAll();
      for (const [socket, inFlight] of this.handedOff) if (inFlight === 0) socket.destroy();
      setTimeout(() => {
        for (const socket of this.handedOff.keys()) socket.destroy();
        this.lane?.destroyAll();
      }, 1000).unref();
    });
  }

  /** Gives a connection to Node's http server for good, the unanswered bytes first, in order. */
  private handOff(socket: Socket, unanswered: Buffer): void {
    // Paused while Node's server attaches, so the unshifted bytes are read before anything newer.
    socket.pause();
    if (unanswered.length > 0) socket.unshift(unanswered);
    this.handedOff.set(socket, 0);
    socket.once('close', () => this.handedOff.delete(socket));
    this.http.emit('connection', socket);
    socket.resume();
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = apiPath((request.url ?? '/').split('?')[0] ?? '/');
    const origin = request.headers.origin;
    const verdict = this.cors.verdict(origin, request.headers.host, this.secure);
    if (verdict === 'refused') {
      sendJson(response, 403, {
        status: 'ERROR',
        message: `requests from the web origin ${origin} are not allowed; list it in ADMIN_CORS_ORIGINS`,
      });
      return;
    }
    if (verdict === 'listed') {
      for (const [name, value] of Object.entries(this.cors.headers(origin!))) response.setHeader(name, value);
    }
    if (method === 'OPTIONS') {
      response.writeHead(204);
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
    const file = method === 'GET' ? this.page.file(path) : undefined;
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
}

/** `/kv/api/*` is an alias of `/api/*` (the original page calls those paths). */
function apiPath(path: string): string {
  return path.startsWith('/kv/api/') ? path.slice(3) : path;
}
