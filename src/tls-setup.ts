import type { Config } from './config.js';
import { StartupError } from './errors.js';
import { TlsTerminator } from './util/tls-terminator.js';
import { TlsFileError } from './util/tls-files.js';

/** Runs a TLS set-up step; a TlsFileError (naming its variable) becomes a StartupError (exit 1). */
export function tlsStartupStep<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof TlsFileError) throw new StartupError(error.message);
    throw error;
  }
}

/** TLS on the chat port when CHAT_TLS_CERT/KEY are set (mutual TLS with CHAT_TLS_CA); else undefined. */
export function chatTls(config: Config): TlsTerminator | undefined {
  const { CHAT_TLS_CERT: cert, CHAT_TLS_KEY: key, CHAT_TLS_CA: ca } = config;
  if (cert === undefined || key === undefined) return undefined;
  return tlsStartupStep(() =>
    TlsTerminator.fromFiles({
      names: { cert: 'CHAT_TLS_CERT', key: 'CHAT_TLS_KEY', ca: 'CHAT_TLS_CA' },
      cert,
      key,
      ca,
    }),
  );
}

/** HTTPS on the admin port when ADMIN_TLS_CERT/KEY are set; else undefined. */
export function adminTls(config: Config): TlsTerminator | undefined {
  const { ADMIN_TLS_CERT: cert, ADMIN_TLS_KEY: key } = config;
  if (cert === undefined || key === undefined) return undefined;
  return tlsStartupStep(() =>
    TlsTerminator.fromFiles({
      names: { cert: 'ADMIN_TLS_CERT', key: 'ADMIN_TLS_KEY', ca: 'ADMIN_TLS_CA' },
      cert,
      key,
    }),
  );
}
