import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/free-port.js';
import {
  CHECK_SCRIPT,
  NOTIFY_SCRIPT,
  renderKeepalivedConfig,
  testKeepalivedConfig,
} from '../../scripts/lib/keepalived.js';
import { NginxServer, renderNginxConfig, testNginxConfig } from '../../scripts/lib/nginx.js';
import { makeTestCerts } from '../../scripts/lib/test-certs.js';

const check = (port: number) => spawnSync(CHECK_SCRIPT, [String(port)]).status;

describe('deploy configs', () => {
  it('renders nginx configs for two app hosts that `nginx -t` accepts, TLS listener included', async () => {
    const certs = await makeTestCerts();
    const prefix = mkdtempSync(join(tmpdir(), 'parley-nginx-t-'));
    const conf = await renderNginxConfig(prefix, {
      listen: `127.0.0.1:${await freePort()}`,
      chatBackends: [
        { host: '10.0.0.11', port: 6000 },
        { host: '10.0.0.12', port: 6000 },
      ],
      adminListen: `127.0.0.1:${await freePort()}`,
      adminBackends: [
        { host: '10.0.0.11', port: 8080 },
        { host: '10.0.0.12', port: 8080 },
      ],
      healthPort: await freePort(),
      tls: { listen: `127.0.0.1:${await freePort()}`, cert: certs.cert, key: certs.key },
    });
    const result = testNginxConfig(prefix, conf);
    expect(result.output).toMatch(/syntax is ok/);
    expect(result.ok).toBe(true);
    const tls = readFileSync(join(prefix, 'parley-stream-tls.conf'), 'utf8');
    expect(tls).toMatch(/listen 127\.0\.0\.1:\d+ ssl /);
    expect(tls).toMatch(/ssl_protocols TLSv1\.2 TLSv1\.3;/);
    expect(tls).toContain(`ssl_certificate ${certs.cert};`);
    expect(tls).not.toMatch(/\{\{/);
    const stream = readFileSync(join(prefix, 'parley-stream.conf'), 'utf8');
    expect(stream).toMatch(/server 10\.0\.0\.12:6000 max_fails=2 fail_timeout=5s;/);
    expect(stream).toMatch(/so_keepalive=/);
    expect(stream).toMatch(/proxy_timeout 7d;/);
    expect(stream).not.toMatch(/\{\{/);
  });

  it('renders MASTER-side and BACKUP-side keepalived configs that `keepalived -t` accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-ka-'));
    for (const [name, priority, src, peer] of [
      ['lb1', 150, '10.0.0.1', '10.0.0.2'],
      ['lb2', 100, '10.0.0.2', '10.0.0.1'],
    ] as const) {
      const file = join(dir, `${name}.conf`);
      const config = renderKeepalivedConfig({
        routerId: name,
        interface: 'eth0',
        vip: '10.0.0.100/24',
        vrid: 51,
        priority,
        unicastSrc: src,
        unicastPeers: [peer],
        authPass: 'parley1',
        healthPort: 8001,
      });
      expect(config).toMatch(/nopreempt/);
      expect(config).toMatch(new RegExp(`unicast_peer \\{\\n\\s+${peer.replaceAll('.', '\\.')}`));
      expect(config).not.toMatch(/\{\{/);
      writeFileSync(file, config);
      const result = testKeepalivedConfig(file);
      expect(result.output).not.toMatch(/Unsafe permissions|SECURITY VIOLATION|disabling/i);
      expect(result.ok).toBe(true);
    }
  });

  it('the nginx check script passes while nginx answers and fails once nginx is gone', async () => {
    const nginx = await NginxServer.start({
      listen: `127.0.0.1:${await freePort()}`,
      chatBackends: [{ host: '127.0.0.1', port: await freePort() }],
      adminListen: `127.0.0.1:${await freePort()}`,
      adminBackends: [{ host: '127.0.0.1', port: await freePort() }],
      healthPort: await freePort(),
    });
    try {
      expect(check(nginx.healthPort)).toBe(0);
      await nginx.stop();
      expect(check(nginx.healthPort)).toBe(1);
    } finally {
      await nginx.destroy();
    }
    // Something else on the port that is not nginx's health endpoint does not pass either.
    expect(check(1)).toBe(1);
  });

  it('the notify hook records state changes', () => {
    const log = join(mkdtempSync(join(tmpdir(), 'parley-notify-')), 'ka.log');
    const result = spawnSync(NOTIFY_SCRIPT, ['INSTANCE', 'PARLEY_VIP', 'MASTER', '150'], {
      env: { ...process.env, PARLEY_KEEPALIVED_LOG: log },
    });
    expect(result.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/^\S+Z INSTANCE PARLEY_VIP MASTER priority=150\n$/);
    // As the rendered config calls it: the log file first, then keepalived's four arguments.
    const other = `${log}.2`;
    expect(spawnSync(NOTIFY_SCRIPT, [other, 'INSTANCE', 'PARLEY_VIP', 'FAULT', '0']).status).toBe(0);
    expect(readFileSync(other, 'utf8')).toMatch(/^\S+Z INSTANCE PARLEY_VIP FAULT priority=0\n$/);
  });
});
