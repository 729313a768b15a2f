import { isIP } from 'node:net';
/** What the admin plane does with a browser request's `Origin`. */
export type OriginVerdict =
  /** No Origin header (curl, scripts, monitoring) or the page's own origin: served, no CORS headers. */
  | 'same'
  /** An origin listed in ADMIN_CORS_ORIGINS: served with CORS headers for it. */
  | 'listed'
  /** Any other web page: refused (403), so it can neither read nor change anything. */
  | 'refused';

const ALLOW = {
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Authorization',
  'Access-Control-Max-Age': '600',
};

/**
 * The admin plane's cross-origin policy. A page the operator happens to open in a browser on the same
 * machine can send requests to 127.0.0.1:8080; without this, `Access-Control-Allow-Origin: *` let it read
 * every reply, and even without CORS a "simple" POST (text/plain, no preflight) would still run a KV
 * command. So a request that carries an `Origin` (browsers send it with every cross-origin request and
 * every POST) is served only for the admin page's own origin or a listed one.
 */
export class CorsPolicy {
  private readonly listed: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.listed = new Set(origins.map((origin) => origin.toLowerCase()));
  }

  verdict(origin: string | undefined, host: string | undefined, secure: boolean): OriginVerdict {
    if (origin === undefined) return 'same';
    const lower = origin.toLowerCase();
    if (this.listed.has(lower)) return 'listed';
    // The page's own origin — but only under an address, not a name: a page that rebinds its own DNS name
    // to 127.0.0.1 also sends Origin == Host (list a name in ADMIN_CORS_ORIGINS to serve the page under it).
    if (
      host !== undefined &&
      lower === `${secure ? 'https' : 'http'}://${host.toLowerCase()}` &&
      isAddress(host)
    ) {
      return 'same';
    }
    return 'refused';
  }

  /** The headers a listed origin's replies carry. */
  headers(origin: string): Record<string, string> {
    return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', ...ALLOW };
  }
}

/** True when a Host header names an IP address or `localhost` (what DNS rebinding cannot fake). */
function isAddress(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return isIP(name) !== 0 || name.toLowerCase() === 'localhost';
}
