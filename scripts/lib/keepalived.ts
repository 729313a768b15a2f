import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from './nginx.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/keepalived', import.meta.url));

export interface KeepalivedOptions {
  readonly routerId: string;
  readonly interface: string;
  readonly vip: string;
  readonly vrid: number;
  readonly priority: number;
  readonly unicastSrc: string;
  readonly unicastPeers: readonly string[];
  readonly authPass: string;
  readonly healthPort: number;
}

export const CHECK_SCRIPT = `${DEPLOY}/check-nginx.sh`;
export const NOTIFY_SCRIPT = `${DEPLOY}/notify.sh`;

/** keepalived.conf for one LB host, rendered from deploy/keepalived/keepalived.conf.template. */
export function renderKeepalivedConfig(options: KeepalivedOptions): string {
  return renderTemplate(readFileSync(`${DEPLOY}/keepalived.conf.template`, 'utf8'), {
    ROUTER_ID: options.routerId,
    INTERFACE: options.interface,
    VIP: options.vip,
    VRID: String(options.vrid),
    PRIORITY: String(options.priority),
    UNICAST_SRC: options.unicastSrc,
    UNICAST_PEERS: options.unicastPeers.map((peer) => `        ${peer}`).join('\n'),
    AUTH_PASS: options.authPass,
    HEALTH_PORT: String(options.healthPort),
    CHECK_SCRIPT: CHECK_SCRIPT,
    NOTIFY_SCRIPT: NOTIFY_SCRIPT,
  });
}

/**
 * `keepalived -t` on a config file, inside a throwaway network namespace (`unshare -n`, root) that has a
 * veth interface of the given name, so the check sees a real interface without touching the host's.
 */
export function testKeepalivedConfig(file: string, iface = 'eth0'): { ok: boolean; output: string } {
  const script = `ip link add ${iface} type veth peer name ${iface}-peer && ip link set ${iface} up && exec keepalived -t -l -f '${file}'`;
  const result = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
