import { describe, expect, it } from 'vitest';
import { installArgv, installMethod, INSTALL_SCRIPT } from '../../../scripts/lib/apt-install.js';
import {
  aptInstallLine,
  DEBIAN_PACKAGES,
  locate,
  missingMessage,
  missingPackages,
  packagesFor,
  unavailableProjects,
  type Probe,
} from '../../../scripts/lib/debian-packages.js';

/** A machine that has exactly these files. */
const machine = (files: string[], path = '/usr/bin:/bin'): Probe => ({
  exists: (file) => files.includes(file),
  path,
});

/** Every file of every package, where Debian puts it. */
const everything = [
  '/usr/sbin/mariadbd',
  '/usr/bin/mariadb-install-db',
  '/usr/bin/redis-server',
  '/usr/sbin/nginx',
  '/usr/lib/nginx/modules/ngx_stream_module.so',
  '/usr/sbin/keepalived',
  '/usr/bin/ip',
  '/usr/bin/chromium',
  '/usr/bin/openssl',
  '/usr/bin/script',
];

describe('the Debian package list', () => {
  it('holds every package the suite needs, once', () => {
    const names = DEBIAN_PACKAGES.map((pkg) => pkg.name);
    expect(names).toEqual([
      'mariadb-server',
      'redis-server',
      'nginx',
      'libnginx-mod-stream',
      'keepalived',
      'iproute2',
      'chromium',
      'openssl',
      'bsdutils',
    ]);
    expect(packagesFor('drill')).toEqual([
      'mariadb-server',
      'redis-server',
      'nginx',
      'libnginx-mod-stream',
      'keepalived',
      'iproute2',
      'openssl',
    ]);
    expect(packagesFor('unit')).toEqual([]);
    expect(packagesFor('e2e')).toEqual(['openssl']);
  });

  it('finds commands in PATH and in the sbin dirs a user PATH lacks', () => {
    expect(locate('nginx', machine(['/usr/sbin/nginx']))).toBe('/usr/sbin/nginx');
    expect(locate('redis-server', machine(['/opt/redis/bin/redis-server'], '/opt/redis/bin'))).toBe(
      '/opt/redis/bin/redis-server',
    );
    expect(locate('nginx', machine([]))).toBeUndefined();
    expect(locate('/usr/bin/chromium', machine(['/usr/bin/chromium']))).toBe('/usr/bin/chromium');
  });

  it('reports nothing missing on a complete machine', () => {
    expect(missingPackages(machine(everything))).toEqual([]);
    expect(unavailableProjects(machine(everything)).size).toBe(0);
  });

  it('names each missing package once, and a package missing one of its files', () => {
    const probe = machine(everything.filter((file) => !/redis|mariadb-install-db|chromium/.test(file)));
    expect(missingPackages(probe).map((pkg) => pkg.name)).toEqual([
      'mariadb-server',
      'redis-server',
      'chromium',
    ]);
    expect(Object.fromEntries(unavailableProjects(probe))).toEqual({
      integration: ['mariadb-server', 'redis-server'],
      cluster: ['mariadb-server', 'redis-server'],
      drill: ['mariadb-server', 'redis-server'],
      browser: ['chromium'],
    });
  });

  it('prints the exact apt-get line that installs what is missing', () => {
    expect(aptInstallLine(['nginx', 'keepalived'])).toBe(
      'apt-get update && apt-get install -y --no-install-recommends nginx keepalived',
    );
    expect(aptInstallLine(['nginx'], true)).toBe(
      'sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx',
    );
    const message = missingMessage(missingPackages(machine(everything.filter((f) => !f.includes('nginx')))));
    expect(message).toBe(
      [
        'missing Debian packages:',
        '  nginx                the stream load balancer (nginx not found)',
        "  libnginx-mod-stream  nginx's stream module (/usr/lib/nginx/modules/ngx_stream_module.so not found)",
        'Install them with:',
        '  apt-get update && apt-get install -y --no-install-recommends nginx libnginx-mod-stream',
      ].join('\n'),
    );
  });
});

describe('installing packages', () => {
  const context = { uid: 1000, hasAptGet: true, sudoWorks: () => false, noInstall: false };

  it('installs as root, or with passwordless sudo, and otherwise says why not', () => {
    expect(installMethod({ ...context, uid: 0 })).toEqual({ kind: 'root' });
    expect(installMethod({ ...context, sudoWorks: () => true })).toEqual({ kind: 'sudo' });
    expect(installMethod(context)).toEqual({ kind: 'manual', reason: 'not root, and no passwordless sudo' });
    expect(installMethod({ ...context, uid: 0, hasAptGet: false })).toMatchObject({ kind: 'manual' });
    expect(installMethod({ ...context, uid: 0, noInstall: true })).toEqual({
      kind: 'manual',
      reason: '--no-install was given',
    });
  });

  it('does not ask sudo when it need not', () => {
    let asked = 0;
    installMethod({ ...context, uid: 0, sudoWorks: () => (asked++, true) });
    expect(asked).toBe(0);
  });

  it('installs without questions, recommends or started services, through sudo -n when not root', () => {
    expect(installArgv('root', ['nginx'])).toEqual(['sh', '-c', INSTALL_SCRIPT, 'install-packages', 'nginx']);
    expect(installArgv('sudo', ['nginx']).slice(0, 3)).toEqual(['sudo', '-n', 'sh']);
    expect(INSTALL_SCRIPT).toContain('DEBIAN_FRONTEND=noninteractive');
    expect(INSTALL_SCRIPT).toContain('apt-get install -y -qq --no-install-recommends "$@"');
    expect(INSTALL_SCRIPT).toContain("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d");
  });
});
