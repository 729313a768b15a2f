import { isIP } from 'node:net';

/**
 * An IP address in one spelling: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as IPv4, IPv6 lowercased and
 * compressed (`2001:DB8:0:0::1` → `2001:db8::1`), so one client never counts as two.
 */
export function canonicalIp(ip: string): string {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7);
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/**
 * What per-address limits count: the address itself for IPv4, its /64 for IPv6 — one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses would let it rotate past every limit.
 */
export function addressKey(ip: string): string {
  const canonical = canonicalIp(ip);
  if (isIP(canonical) !== 6) return canonical;
  const [head = '', tail = ''] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = canonical.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : canonical.split(':');
  return `${groups.slice(0, 4).join(':')}::/64`;
}
