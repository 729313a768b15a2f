import { BlockList, isIP } from 'node:net';
import proxyProtocol from 'proxy-protocol-js';
import { canonicalIp } from '../util/address-key.js';

/** The address a client connected from. */
export interface Peer {
  readonly ip: string;
  readonly port: number;
}

/** What the first bytes of a connection say about a PROXY protocol header (haproxy's v1 text or v2 binary). */
export type ProxyHeaderRead =
  | { readonly kind: 'none' }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `peer` is absent for LOCAL (v2) / UNKNOWN (v1): the proxy speaks for itself (a health check). */
  | { readonly kind: 'header'; readonly peer: Peer | undefined; readonly rest: Buffer };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX_BYTES = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_BYTES = 16;
/** TLVs can make a v2 header longer than its addresses; more than this is not a header we accept. */
const V2_MAX_BYTES = 1024;

/** True when `buffer` is (the start of) `prefix`, or starts with it. */
function startsLike(buffer: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buffer.length, prefix.length);
  return buffer.subarray(0, n).equals(prefix.subarray(0, n));
}

/**
 * Reads a PROXY protocol header (v1 or v2) at the start of `buffer`, as a load balancer sends it before the
 * client's bytes (nginx `proxy_protocol on`). The parsing itself is proxy-protocol-js's; this decides how
 * much is header, whether more bytes are needed, and checks the addresses.
 */
export function readProxyHeader(buffer: Buffer): ProxyHeaderRead {
  if (buffer.length === 0) return { kind: 'incomplete' };
  if (startsLike(buffer, V1_PREFIX)) {
    const end = buffer.indexOf('\r\n');
    if (end === -1) {
      return buffer.length < V1_MAX_BYTES
        ? { kind: 'incomplete' }
        : { kind: 'invalid', reason: 'v1 line too long' };
    }
    const line = buffer.subarray(0, end + 2).toString('latin1');
    const rest = buffer.subarray(end + 2);
    if (/^PROXY UNKNOWN[ \r]/.test(line)) return { kind: 'header', peer: undefined, rest };
    try {
      const parsed = proxyProtocol.V1ProxyProtocol.parse(line);
      return header(parsed.source.ipAddress, parsed.source.port, rest);
    } catch {
      return { kind: 'invalid', reason: 'malformed v1 header' };
    }
  }
  if (startsLike(buffer, V2_SIGNATURE)) {
    if (buffer.length < V2_FIXED_BYTES) return { kind: 'incomplete' };
    const total = V2_FIXED_BYTES + buffer.readUInt16BE(14);
    if (total > V2_MAX_BYTES) return { kind: 'invalid', reason: 'v2 header too long' };
    if (buffer.length < total) return { kind: 'incomplete' };
    const rest = buffer.subarray(total);
    try {
      const parsed = proxyProtocol.V2ProxyProtocol.parse(new Uint8Array(buffer.subarray(0, total)));
      if (parsed.command === proxyProtocol.Command.LOCAL) return { kind: 'header', peer: undefined, rest };
      const address = parsed.proxyAddress;
      if (address instanceof proxyProtocol.IPv4ProxyAddress) {
        return header(address.sourceAddress.address.join('.'), address.sourcePort, rest);
      }
      if (address instanceof proxyProtocol.IPv6ProxyAddress) {
        const bytes = address.sourceAddress.address;
        const groups: string[] = [];
        for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
        return header(groups.join(':'), address.sourcePort, rest);
      }
      return { kind: 'invalid', reason: 'v2 header without an IP address' };
    } catch {
      return { kind: 'invalid', reason: 'malformed v2 header' };
    }
  }
  return { kind: 'none' };
}

function header(ip: string, port: number, rest: Buffer): ProxyHeaderRead {
  if (isIP(ip) === 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { kind: 'invalid', reason: 'bad source address' };
  }
  return { kind: 'header', peer: { ip: canonicalIp(ip), port }, rest };
}

/**
 * TRUSTED_PROXIES: the addresses whose PROXY headers are believed (the load balancers). Entries are IPs or
 * CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(address!, family);
      else this.list.addSubnet(address!, Number(bits), family);
    }
  }

  has(ip: string): boolean {
    if (this.empty) return false;
    const address = canonicalIp(ip);
    return this.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}
