import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { readPemFiles, TLS12_CIPHERS, TLS_MIN_VERSION, TlsFileError } from './tls-files.js';

/** Where a listener's certificate, key and (optional) client CA are, and the settings that named them. */
export interface ServerTlsFiles {
  /** The setting names for messages, e.g. CHAT_TLS_CERT, CHAT_TLS_KEY, CHAT_TLS_CA. */
  readonly names: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly cert: string;
  readonly key: string;
  /** When set, clients must present a certificate signed by this CA. */
  readonly ca?: string | undefined;
}

/** The first byte of every TLS record a client opens with (a handshake record). */
const TLS_HANDSHAKE = 0x16;

/**
 * Server-side TLS for a plain `net` listener: each accepted socket is wrapped after the fact, so whatever
 * the listener reads before the handshake (nothing today; a PROXY protocol header from a trusted load
 * balancer in front of a TLS node) stays on the plain socket, and everything after it — the
 * TCP-or-WebSocket sniffing, framing, limits — sees the decrypted stream exactly as on a plaintext port.
 */
export class TlsTerminator {
  private constructor(
    private readonly context: SecureContext,
    private readonly requestCert: boolean,
  ) {}

  /**
   * Reads and checks the files (readable PEM, key matching the certificate); throws TlsFileError naming
   * the setting at fault.
   */
  static fromFiles(files: ServerTlsFiles): TlsTerminator {
    const pem = readPemFiles({
      [files.names.cert]: files.cert,
      [files.names.key]: files.key,
      [files.names.ca]: files.ca,
    });
    let context: SecureContext;
    try {
      context = createSecureContext({
        cert: pem[files.names.cert],
        key: pem[files.names.key],
        ca: pem[files.names.ca],
        minVersion: TLS_MIN_VERSION,
        ciphers: TLS12_CIPHERS,
        honorCipherOrder: true,
      });
    } catch (error) {
      const reason = (error as Error).message;
      const about = /key/i.test(reason) ? `${files.names.key}/${files.names.cert}` : files.names.cert;
      throw new TlsFileError(`${about}: unusable certificate or key (${reason})`);
    }
    return new TlsTerminator(context, files.ca !== undefined);
  }

  /**
   * Runs the handshake on an accepted socket (`first`: bytes already read from it, maybe none) and hands
   * the secure socket to `onSecure`. A client that
   * does not open with a TLS handshake (a plaintext client on the TLS port) or fails the handshake is
   * dropped; the caller's timer bounds how long a handshake may take (destroying the plain socket ends
   * the secure one).
   */
  accept(socket: Socket, first: Buffer, onSecure: (secure: TLSSocket) => void): void {
    if (first.length === 0) {
      socket.once('data', (chunk: Buffer) => this.accept(socket, chunk, onSecure));
      return;
    }
    socket.pause();
    if (first[0] !== TLS_HANDSHAKE) {
      socket.destroy();
      return;
    }
    // The TLS socket takes over the handle and first consumes what was read and put back.
    socket.unshift(first);
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.context,
      requestCert: this.requestCert,
      rejectUnauthorized: this.requestCert,
    });
    secure.on('error', () => secure.destroy());
    secure.once('secure', () => onSecure(secure));
  }
}
