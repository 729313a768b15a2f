import { readFileSync } from 'node:fs';

/** A TLS file that cannot be used; the message starts with the setting that named it. */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
}

/** PEM contents read from the files of a set of settings (`{ CHAT_TLS_CERT: '/etc/…/cert.pem' }`). */
export type PemContents<K extends string> = { readonly [P in K]?: Buffer };

/**
 * Reads each named file as PEM. A missing or unreadable file, or one that holds no PEM block, throws
 * TlsFileError naming the setting, so start-up says which variable to fix rather than OpenSSL's words.
 */
export function readPemFiles<K extends string>(paths: {
  readonly [P in K]?: string | undefined;
}): PemContents<K> {
  const out: Partial<Record<K, Buffer>> = {};
  for (const [setting, path] of Object.entries(paths) as [K, string | undefined][]) {
    if (path === undefined) continue;
    let contents: Buffer;
    try {
      contents = readFileSync(path);
    } catch (error) {
      const code = (error as { code?: string }).code ?? (error as Error).message;
      throw new TlsFileError(`${setting}: cannot read ${path} (${code})`);
    }
    if (!contents.includes('-----BEGIN ')) {
      throw new TlsFileError(`${setting}: ${path} holds no PEM block (-----BEGIN …)`);
    }
    out[setting] = contents;
  }
  return out;
}

/** OpenSSL/Node codes of a peer certificate that did not verify (wrong CA, wrong name, expired …). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * OpenSSL's texts of those failures, for drivers that replace the code with their own (mysql2 reports
 * every one as HANDSHAKE_SSL_ERROR with the original message).
 */
const CERTIFICATE_MESSAGES: readonly (readonly [RegExp, string])[] = [
  [/^self[- ]signed certificate in certificate chain/, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/^self[- ]signed certificate/, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/^unable to verify the first certificate/, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/^unable to get local issuer certificate/, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/^certificate has expired/, 'CERT_HAS_EXPIRED'],
  [/^certificate is not yet valid/, 'CERT_NOT_YET_VALID'],
  [/^Hostname\/IP does not match certificate's altnames/, 'ERR_TLS_CERT_ALTNAME_INVALID'],
];

/** The certificate code of a TLS verification failure (from the error or its causes), else undefined. */
export function certificateErrorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return code;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') {
      for (const [pattern, known] of CERTIFICATE_MESSAGES) if (pattern.test(message)) return known;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Modern server-side TLS: 1.2 and 1.3 only, and for 1.2 only ECDHE key exchange with AEAD ciphers
 * (Mozilla's "intermediate" list). TLS 1.3 suites are OpenSSL's defaults, all AEAD.
 */
export const TLS_MIN_VERSION = 'TLSv1.2';
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
