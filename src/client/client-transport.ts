import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';

/** One open connection of the client: text frames in and out. */
export interface ClientLink {
  send(text: string): void;
  close(): void;
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
}

/** Largest line the client accepts from a server (the server's frames are far smaller). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Opens a TCP (newline-delimited JSON) or WebSocket link. */
export function openLink(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return endpoint.transport === 'ws' ? openWs(endpoint, events) : openTcp(endpoint, events);
}

function openTcp(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: endpoint.host, port: endpoint.port, noDelay: true });
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
    socket.once('connect', () => {
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
      resolve({ send, close: () => socket.destroy(), buffered: () => socket.writableLength });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function openWs(endpoint: Endpoint, events: LinkEvents): Promise<ClientLink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${endpoint.host}:${endpoint.port}/ws`, {
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
        buffered: () => ws.bufferedAmount,
      });
    });
    ws.once('error', (error) => {
      if (ws.readyState !== WebSocket.OPEN) reject(error);
    });
  });
}
