/**
 * THE list of Debian packages Parley's tests and scripts need besides Node.js — the only one: `npm test`
 * (scripts/test.ts) installs from it, vitest.config.ts marks the projects that cannot run without a
 * package, and `npm run drill` checks it. None runs as a system service for the tests: they start private
 * servers from these binaries on free loopback ports.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A Debian package, the files that show it is installed, and what needs it. */
export interface DebianPackage {
  readonly name: string;
  /** Installed when each is found: an absolute path, or a command looked up in PATH and the sbin dirs. */
  readonly provides: readonly string[];
  /** What it is for, in a few words. */
  readonly why: string;
  /** vitest projects that cannot run without it (a project not named here needs none of these). */
  readonly projects: readonly string[];
}

export const DEBIAN_PACKAGES: readonly DebianPackage[] = [
  {
    name: 'mariadb-server',
    provides: ['mariadbd', 'mariadb-install-db'],
    why: 'private MariaDB servers',
    projects: ['integration', 'cluster', 'drill'],
  },
  {
    name: 'redis-server',
    provides: ['redis-server'],
    why: 'private Redis servers',
    projects: ['integration', 'cluster', 'drill'],
  },
  {
    name: 'nginx',
    provides: ['nginx'],
    why: 'the stream load balancer',
    projects: ['integration', 'cluster', 'drill'],
  },
  {
    name: 'libnginx-mod-stream',
    provides: ['/usr/lib/nginx/modules/ngx_stream_module.so'],
    why: "nginx's stream module",
    projects: ['integration', 'cluster', 'drill'],
  },
  {
    name: 'keepalived',
    provides: ['keepalived'],
    why: '`keepalived -t` on the rendered configs; the VIP in the drill',
    projects: ['integration', 'drill'],
  },
  {
    name: 'iproute2',
    provides: ['ip'],
    why: 'network namespaces and veths',
    projects: ['integration', 'drill'],
  },
  {
    name: 'chromium',
    provides: ['/usr/bin/chromium'],
    why: 'the admin page test (playwright-core)',
    projects: ['browser'],
  },
  {
    name: 'openssl',
    provides: ['openssl'],
    why: 'test certificates (scripts/lib/test-certs.ts), the local cluster certificate',
    projects: ['e2e', 'integration', 'cluster', 'drill'],
  },
  {
    // Essential on Debian and Ubuntu, so nearly always there; only the interactive client test uses it.
    name: 'bsdutils',
    provides: ['script'],
    why: 'script(1): a terminal for the interactive client test',
    projects: [],
  },
];

/** How to look for files; injectable so tests can pretend a package is missing. */
export interface Probe {
  readonly exists: (path: string) => boolean;
  /** PATH, searched for commands (then the sbin and bin dirs, which a user's PATH may lack). */
  readonly path: string;
}

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * This machine. PARLEY_PROBE_ROOT (tests and demonstrations only) makes every lookup happen under that
 * directory instead of `/`, as if on a machine that has only what is there.
 */
export function systemProbe(env: NodeJS.ProcessEnv = process.env): Probe {
  const root = env.PARLEY_PROBE_ROOT ?? '';
  return { exists: (path) => existsSync(root + path), path: env.PATH ?? '' };
}

/** Where a file or command is, or undefined. */
export function locate(file: string, probe: Probe): string | undefined {
  if (file.startsWith('/')) return probe.exists(file) ? file : undefined;
  const dirs = [...probe.path.split(delimiter).filter((dir) => dir.startsWith('/')), ...SYSTEM_DIRS];
  return dirs.map((dir) => join(dir, file)).find((candidate) => probe.exists(candidate));
}

/** The packages (all, or those named) whose files are not all there. */
export function missingPackages(
  probe: Probe,
  names: readonly string[] = DEBIAN_PACKAGES.map((p) => p.name),
): DebianPackage[] {
  return DEBIAN_PACKAGES.filter(
    (pkg) => names.includes(pkg.name) && pkg.provides.some((file) => locate(file, probe) === undefined),
  );
}

/** The packages a vitest project (or `npm run drill`) needs. */
export function packagesFor(project: string): string[] {
  return DEBIAN_PACKAGES.filter((pkg) => pkg.projects.includes(project)).map((pkg) => pkg.name);
}

/** Each project that cannot run here, with the packages it lacks. */
export function unavailableProjects(probe: Probe): Map<string, string[]> {
  const unavailable = new Map<string, string[]>();
  for (const pkg of missingPackages(probe)) {
    for (const project of pkg.projects)
      unavailable.set(project, [...(unavailable.get(project) ?? []), pkg.name]);
  }
  return unavailable;
}

/** The exact command that installs them (no recommended extras); `sudo` for a user who is not root. */
export function aptInstallLine(names: readonly string[], sudo = false): string {
  const su = sudo ? 'sudo ' : '';
  return `${su}apt-get update && ${su}apt-get install -y --no-install-recommends ${names.join(' ')}`;
}

/** One message: what is missing, what for, and the line that installs it. */
export function missingMessage(missing: readonly DebianPackage[], sudo = false): string {
  const width = Math.max(...missing.map((pkg) => pkg.name.length));
  return [
    `missing Debian package${missing.length === 1 ? '' : 's'}:`,
    ...missing.map((pkg) => `  ${pkg.name.padEnd(width)}  ${pkg.why} (${pkg.provides.join(', ')} not found)`),
    'Install them with:',
    `  ${aptInstallLine(
      missing.map((pkg) => pkg.name),
      sudo,
    )}`,
  ].join('\n');
}
