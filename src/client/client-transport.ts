import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import WebSocket from 'ws';
import { certificateErrorCode } from '../util/tls-files.js';

/** One open connection of the client: text frames in and out. */
export interface ClientLink {
  send(text: string): void;
  /** Cuts the connection at once, as a network failure would (what was not yet written is lost). */
  close(): void;
  /** Closes after what was sent went out (a last ack, say); cut after a second at the latest. */
  end(): void;
  /** Bytes queued locally and not yet written. */
  buffered(): number;
}

export interface LinkEvents {
  frame(text: string): void;
  closed(): void;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** 'ws' connects to ws://host:port/ws (through the same chat port). */
  readonly transport: 'tcp' | 'ws';
  readonly connectTimeoutMs?: number;
  /**
   * TLS (wss:// for 'ws'): `true` verifies the server against the system's CAs; an object adds a CA, the
   * name to verify (default: host) or a client certificate. The server's certificate is always verified
   * unless `rejectUnauthorized: false`, which lets anyone on the path read and change the session.
   * @default undefined (plaintext)
   */
  readonly tls?: boolean | ClientTlsOptions | undefined;
}

/** TLS settings of a client link (PEM contents, not paths). */
export interface ClientTlsOptions {
  /** CA certificate(s) to trust instead of the system's (a self-signed server's own certificate). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Name the server's certificate must carry. @default host (an IP address is checked as such) */
  readonly servername?: string;
  /** Verify the server's certificate. @default true */
  readonly rejectUnauthorized?: boolean;
  /** Client certificate and key, for a server that asks for one (CHAT_TLS_CA). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** A server certificate that did not verify; `code` is OpenSSL's (e.g. SELF_SIGNED_CERT_IN_CHAIN). */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(
    readonly code: string,
    detail: string,
  ) {
    super(`the server's TLS certificate did not verify (${code}: ${detail})`);
  }
}

function tlsOptions(endpoint: Endpoint): ConnectionOptions | undefined {
  if (endpoint.tls === undefined || endpoint.tls === false) return undefined;
  const given = endpoint.tls === true ? {} : endpoint.tls;
  return {
    ...(given.ca === undefined ? {} : { ca: given.ca as string | Buffer | (string | Buffer)[] }),
    ...(given.cert === undefined ? {} : { cert: given.cert, key: given.key }),
    // SNI carries names only; an IP address is still checked against the certificate's IP entries.
    ...(given.servername !== undefined
      ? { servername: given.servername }
      : isIP(endpoint.host) === 0
        ? { servername: endpoint.host }
        : {}),
    rejectUnauthorized: given.rejectUnauthorized !== false,
    minVersion: 'TLSv1.2',
  };
}

/** A verification failure becomes a CertificateError; anything else stays as it is. */
function explain(error: Error): Error {
  const code = certificateErrorCode(error);
  return code === undefined ? error : new CertificateError(code, error.message);
}

/** Largest line the client accepts from a server (the server's frames are far smaller). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Opens a TCP (newline-delimited JSON) or WebSocket link. */
export function openLink(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return endpoint.transport === 'ws' ? openWs(endpoint, events) : openTcp(endpoint, events);
}

function openTcp(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return new Promise((resolve, reject) => {
    const secure = tlsOptions(endpoint);
    const target = { host: endpoint.host, port: endpoint.port, noDelay: true };
    const socket: Socket = secure ? tlsConnect({ ...target, ...secure }) : tcpConnect(target);
    socket.setKeepAlive(true, 30_000);
    const timer = setTimeout(
      () => socket.destroy(new Error('connect timeout')),
      endpoint.connectTimeoutMs ?? 5000,
    );
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) events.frame(line);
      }
      if (pending.length > MAX_LINE_BYTES) socket.destroy(new Error('server line too long'));
    });
    // Over TLS the link is ready once the handshake verified the server, not at the TCP connect.
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.on('close', () => events.closed());
      let corked = false;
      const send = (text: string): void => {
        // Sends within one tick share one syscall.
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(() => {
            corked = false;
            socket.uncork();
          });
        }
        socket.write(`${text}\n`);
      };
      resolve({
        send,
        close: () => socket.destroy(),
        end: () => {
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref();
        },
        buffered: () => socket.writableLength,
      });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(explain(error));
    });
  });
}

function openWs(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return new Promise((resolve, reject) => {
    const secure = tlsOptions(endpoint);
    const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host;
    const ws = new WebSocket(`${secure ? 'wss' : 'ws'}://${host}:${endpoint.port}/ws`, {
      ...secure,
      handshakeTimeout: endpoint.connectTimeoutMs ?? 5000,
      perMessageDeflate: false,
      maxPayload: MAX_LINE_BYTES,
    });
    ws.on('message', (data: Buffer) => events.frame(data.toString('utf8')));
    ws.once('open', () => {
      ws.on('close', () => events.closed());
      resolve({
        send: (text) => ws.send(text),
        close: () => ws.terminate(),
        end: () => {
          ws.close(1000);
          setTimeout(() => ws.terminate(), 1000).unref();
        },
        buffered: () => ws.bufferedAmount,
      });
    });
    ws.once('error', (error) => {
      if (ws.readyState !== WebSocket.OPEN) reject(explain(error));
    });
  });
}
