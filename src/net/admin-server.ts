import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

export type AdminRoute = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** JSON reply with the headers every admin endpoint shares. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
  });
  response.end(json);
}

/**
 * The admin HTTP plane (binds 127.0.0.1 by default): health now; KV, stats and metrics routes are
 * registered by their subsystems. Keep-alive is on (Node's default for HTTP/1.1).
 */
export class AdminServer {
  private readonly server: Server;
  private readonly routes = new Map<string, AdminRoute>();
  private draining = false;

  constructor(private readonly logger: Logger) {
    this.server = createServer((request, response) => this.onRequest(request, response));
    this.server.keepAliveTimeout = 30_000;
    this.route('GET /healthz', (_request, response) => {
      sendJson(response, this.draining ? 503 : 200, { status: this.draining ? 'draining' : 'ok' });
    });
  }

  /** Registers `METHOD /path`. */
  route(key: string, handler: AdminRoute): void {
    this.routes.set(key, handler);
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
    const path = (request.url ?? '/').split('?')[0];
    const handler = this.routes.get(`${request.method ?? 'GET'} ${path}`);
    if (!handler) {
      sendJson(response, 404, { status: 'ERROR', message: `no route ${request.method ?? ''} ${path ?? ''}` });
      return;
    }
    Promise.resolve(handler(request, response)).catch((error: unknown) => {
      this.logger.error({ err: error, path }, 'admin request failed');
      if (!response.headersSent) sendJson(response, 500, { status: 'ERROR', message: 'internal error' });
      else response.destroy();
    });
  }
}
