import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { IdleTimers } from './idle-timers.js';
import {
  Connection,
  type CloseReason,
  type ConnectionHandler,
  type ConnectionLimits,
  type ConnectionOwner,
} from './connection.js';
import { addressKey, canonicalIp } from '../util/address-key.js';
import { readProxyHeader, type Peer, type TrustedProxies } from './proxy-header.js';
import { looksLikeHttp, parseRequestHead, plainHttpResponse, type RequestHead } from './http-upgrade.js';
import { TcpTransport } from './tcp-transport.js';
import type { TlsTerminator } from '../util/tls-terminator.js';
import type { Transport } from './transport.js';
import { WsTransport } from './ws-transport.js';

export interface ChatServerOptions extends ConnectionLimits {
  readonly maxConnections: number;
  readonly maxFrameBytes: number;
  /** How long a socket may take to send its first bytes / complete an HTTP upgrade head. */
  readonly sniffTimeoutMs: number;
  /** The frame a socket over `maxConnections` gets before it is closed (built by the protocol layer). */
  readonly busyFrame: string;
  /** Open connections allowed from one client address on this node. */
  readonly maxConnectionsPerIp: number;
  /** The frame a socket over `maxConnectionsPerIp` gets before it is closed. */
  readonly perIpBusyFrame: string;
  /** Load balancers whose PROXY protocol header names the real client (TRUSTED_PROXIES). */
  readonly trustedProxies: TrustedProxies;
  /** Serve TLS on this port (CHAT_TLS_CERT/KEY): after any PROXY header, sniffed after the handshake. */
  readonly tls?: TlsTerminator | undefined;
}

/** What the server needs from the session of one connection, beyond the connection's own events. */
export interface ChatSessionHandler extends ConnectionHandler {
  /** Shutdown: tell the client to reconnect elsewhere in about `reconnectInMs`, then close. */
  shutdown(reconnectInMs: number): void;
}

/**
 * Makes the session of a new connection (the composition root binds it to the protocol layer); `logger` is
 * the server's, for the session to derive a per-connection child from when it first logs.
 */
export type SessionFactory = (connection: Connection, logger: Logger) => ChatSessionHandler;

export interface ChatServerStats {
  readonly sockets: number;
  readonly connections: { readonly tcp: number; readonly ws: number };
  readonly closeReasons: Readonly<Record<string, number>>;
  /** Sockets refused before they became connections: a PROXY header from an untrusted address, or over the per-address limit. */
  readonly refused: { readonly proxy: number; readonly badProxyHeader: number; readonly perIp: number };
}

/** A TLS handshake on the chat port must complete within this time. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** An HTTP request head on the chat port must be complete within this time. */
const HTTP_HEAD_TIMEOUT_MS = 10_000;
/** After an HTTP answer on the chat port, the socket is destroyed this long later at the latest. */
const HTTP_LINGER_MS = 2000;

/** TCP keep-alive probes start after this idle time; they catch dead peers of v1 clients (no heartbeat). */
const KEEPALIVE_DELAY_MS = 60_000;

/**
 * The chat listener. One port serves both kinds of client: the first bytes decide — an HTTP request
 * head (a WebSocket upgrade to /ws) goes to `ws`, anything else is a JSON stream. So one Nginx stream
 * VIP carries TCP and WebSocket clients alike.
 */
export interface ChatServerEvents {
  /** A client connection closed; `reason` is CLIENT_CLOSED or an error catalog code. */
  'connection-closed': [{ reason: CloseReason; transport: 'tcp' | 'ws' }];
}

export class ChatServer extends EventEmitter<ChatServerEvents> implements ConnectionOwner {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<Connection, ChatSessionHandler>();
  private readonly closeReasons: Record<string, number> = {};
  /** Open sockets per client address (the PROXY header's when a trusted load balancer sent one). */
  private readonly perIp = new Map<string, number>();
  /** Sockets refused before they became connections. */
  private readonly refused = { proxy: 0, badProxyHeader: 0, perIp: 0 };
  /** Every accepted socket until it closes, sniffing and HTTP ones included (shutdown destroys them). */
  private readonly openSockets = new Set<Socket>();
  /** The idle timeouts of every connection: one timer per timeout length, not one per connection. */
  private readonly idleTimers = new IdleTimers();
  /** Sockets whose first bytes are still awaited, with the timer that destroys them. */
  private readonly sniffTimers = new Map<Socket, NodeJS.Timeout>();
  /** The per-address key each counted socket holds a place under (released on close). */
  private readonly peerKeys = new Map<Socket, string>();
  private sockets = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly newSession: SessionFactory,
    private readonly options: ChatServerOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_DELAY_MS });
    this.server.on('connection', (socket) => this.onSocket(socket));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: false,
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 4096 }, () => {
        this.server.off('error', reject);
        // Logged from now on; a failure to listen is the caller's to report (one line, naming the setting).
        this.server.on('error', (error) => this.logger.error({ err: error }, 'chat listener error'));
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  stats(): ChatServerStats {
    let ws = 0;
    for (const connection of this.connections.keys()) if (connection.kind === 'ws') ws++;
    return {
      sockets: this.sockets,
      connections: { tcp: this.connections.size - ws, ws },
      closeReasons: { ...this.closeReasons },
      refused: { ...this.refused },
    };
  }

  /** Stops accepting; tells every client to reconnect elsewhere; resolves when all closed or the grace ran out. */
  async shutdown(graceMs: number): Promise<void> {
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.connections.values()) session.shutdown(Math.floor(Math.random() * 2000));
    await this.socketsClosed(graceMs);
    for (const connection of this.connections.keys()) connection.close('SERVER_DRAINING', true);
    // Sockets that never became connections (still sniffing, or answered over HTTP) go too.
    for (const socket of this.openSockets) socket.destroy();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    await listenerClosed;
  }

  /** Resolves when no socket is open, or after timeoutMs. */
  private socketsClosed(timeoutMs: number): Promise<void> {
    if (this.sockets === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onSocket(socket: Socket): void {
    this.sockets++;
    this.openSockets.add(socket);
    this.watchClose(socket);
    socket.on('error', ignoreSocketError);
    if (this.sockets > this.options.maxConnections) {
      // On a TLS port a frame in clear is noise to the client; it sees the connection close instead.
      if (this.options.tls === undefined) socket.end(`${this.options.busyFrame}\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), this.options.sniffTimeoutMs);
    timer.unref();
    this.sniffTimers.set(socket, timer);
    const direct: Peer = { ip: canonicalIp(socket.remoteAddress ?? '?'), port: socket.remotePort ?? 0 };
    // A load balancer speaks for many clients: its sockets count against the address its PROXY header
    // names. Anyone else counts at once, silent or not, so one address cannot hold sockets unbounded.
    const fromProxy = this.options.trustedProxies.has(direct.ip);
    if (!fromProxy && !this.countPeer(socket, direct)) return;
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const read = readProxyHeader(buffered);
      if (read.kind === 'incomplete') return;
      socket.off('data', onData);
      if (read.kind === 'none') {
        if (!fromProxy || this.countPeer(socket, direct)) {
          this.sniffSecured(socket, buffered, direct);
        }
        return;
      }
      // Only a configured load balancer may say who the client is; from anyone else it is a forgery.
      if (!fromProxy || read.kind === 'invalid') {
        this.logger.warn(
          { remote: direct.ip, reason: read.kind === 'invalid' ? read.reason : 'untrusted address' },
          'PROXY header refused',
        );
        if (fromProxy) this.refused.badProxyHeader++;
        else this.refused.proxy++;
        socket.destroy();
        return;
      }
      const peer = read.peer ?? direct;
      if (!this.countPeer(socket, peer)) return;
      this.sniffSecured(socket, read.rest, peer);
    };
    socket.on('data', onData);
  }

  /**
   * The one close listener of a socket: every piece of per-socket bookkeeping is undone here. It is made
   * in a function of its own so that its closure holds the socket alone (a closure made in `onSocket`
   * would keep that function's whole context, first bytes included, for the connection's lifetime).
   */
  private watchClose(socket: Socket): void {
    socket.on('close', () => this.onSocketClosed(socket));
  }

  private onSocketClosed(socket: Socket): void {
    this.openSockets.delete(socket);
    clearTimeout(this.sniffTimers.get(socket));
    this.sniffTimers.delete(socket);
    const key = this.peerKeys.get(socket);
    if (key !== undefined) {
      this.peerKeys.delete(socket);
      const left = (this.perIp.get(key) ?? 1) - 1;
      if (left === 0) this.perIp.delete(key);
      else this.perIp.set(key, left);
    }
    if (--this.sockets > 0) return;
    const waiters = this.idleWaiters.splice(0);
    for (const wake of waiters) wake();
  }

  /** The sniff is over (the stream was recognised, or the socket refused): its timer goes. */
  private stopSniffTimer(socket: Socket): void {
    clearTimeout(this.sniffTimers.get(socket));
    this.sniffTimers.delete(socket);
  }

  /** The client's address is known: counts it against its per-address limit (false: refused and closing). */
  private countPeer(socket: Socket, peer: Peer): boolean {
    const key = addressKey(peer.ip);
    const count = (this.perIp.get(key) ?? 0) + 1;
    this.perIp.set(key, count);
    this.peerKeys.set(socket, key);
    if (count <= this.options.maxConnectionsPerIp) return true;
    this.stopSniffTimer(socket);
    this.refused.perIp++;
    if (this.options.tls === undefined) socket.end(`${this.options.perIpBusyFrame}\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
    return false;
  }

  /**
   * Sniffs the stream as it is, or on a TLS port the decrypted stream once the handshake is done (the
   * sniff timer bounds the handshake too: destroying the plain socket ends the secure one). `first` holds
   * the bytes already read (none after a PROXY header that came alone).
   */
  private sniffSecured(socket: Socket, first: Buffer, peer: Peer): void {
    const tls = this.options.tls;
    if (tls === undefined) {
      if (first.length > 0) this.sniff(socket, first, peer);
      else socket.once('data', (chunk: Buffer) => this.sniff(socket, chunk, peer));
      return;
    }
    // A handshake must finish soon: the long pre-login time is for people at a menu, not for half-open
    // handshakes holding connection slots.
    const handshake = setTimeout(() => socket.destroy(), TLS_HANDSHAKE_TIMEOUT_MS).unref();
    socket.once('close', () => clearTimeout(handshake));
    tls.accept(socket, first, (secure) => {
      clearTimeout(handshake);
      secure.once('data', (decrypted: Buffer) => this.sniff(secure, decrypted, peer));
    });
  }

  /** What the first bytes speak: an HTTP request (a WebSocket upgrade) or a JSON stream. */
  private sniff(socket: Socket, first: Buffer, peer: Peer): void {
    this.stopSniffTimer(socket);
    if (looksLikeHttp(first)) {
      // A request head must be complete soon; the long pre-login time is for people at a menu.
      this.readHttpHead(
        socket,
        first,
        peer,
        setTimeout(() => socket.destroy(), HTTP_HEAD_TIMEOUT_MS).unref(),
      );
    } else {
      this.accept(new TcpTransport(socket, this.options.maxFrameBytes, first, peer));
    }
  }

  private readHttpHead(socket: Socket, first: Buffer, peer: Peer, timer: NodeJS.Timeout): void {
    let buffered = first;
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      tryParse();
    };
    const tryParse = (): void => {
      const parsed = parseRequestHead(buffered);
      if (parsed === undefined) return;
      socket.off('data', onData);
      clearTimeout(timer);
      socket.pause();
      if (parsed === 'invalid') {
        this.answerHttp(socket, plainHttpResponse(400, 'Bad Request', { error: 'malformed HTTP request' }));
        return;
      }
      this.upgrade(socket, parsed.head, parsed.rest, peer);
    };
    socket.on('data', onData);
    tryParse();
  }

  /**
   * A final HTTP answer on the chat port. The socket is destroyed shortly after, whether or not the client
   * closes its side: a client holding it would otherwise keep a slot of MAX_CONNECTIONS forever.
   */
  private answerHttp(socket: Socket, response: string): void {
    socket.end(response);
    setTimeout(() => socket.destroy(), HTTP_LINGER_MS).unref();
  }

  private upgrade(socket: Socket, head: RequestHead, rest: Buffer, peer: Peer): void {
    const path = head.url.split('?')[0];
    const isUpgrade = String(head.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (path !== '/ws' || !isUpgrade || head.method !== 'GET') {
      const body = {
        error: 'this is the Parley chat port: connect a WebSocket to /ws, or speak JSON over TCP',
      };
      this.answerHttp(
        socket,
        plainHttpResponse(
          path === '/ws' ? 426 : 404,
          path === '/ws' ? 'Upgrade Required' : 'Not Found',
          body,
        ),
      );
      return;
    }
    // ws reads only method, url and headers of the request object.
    this.wss.handleUpgrade(head as unknown as IncomingMessage, socket, rest, (ws) => {
      this.accept(new WsTransport(ws, socket, peer));
      socket.resume();
    });
  }

  private accept(transport: Transport): void {
    const connection = new Connection(transport, this.options, this.idleTimers);
    // The server's logger: the session makes its child logger (remote address, transport) at its first
    // log line, not one per connection up front (~0.3 KB each).
    const session = this.newSession(connection, this.logger);
    this.connections.set(connection, session);
    // The session is the handler itself: no wrapper object of closures per connection.
    connection.start(session, this);
  }

  /** A connection closed (Connection's owner hook). */
  connectionClosed(connection: Connection, reason: CloseReason): void {
    this.connections.delete(connection);
    this.closeReasons[reason] = (this.closeReasons[reason] ?? 0) + 1;
    this.emit('connection-closed', { reason, transport: connection.kind });
  }
}

/** Socket errors are followed by 'close', which does the cleanup; the reason is not the peer's business. */
function ignoreSocketError(): void {}
