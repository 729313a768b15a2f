import { spawnSync } from 'node:child_process';

/** How `npm test` can install packages here: as root, with passwordless sudo, or not at all (and why). */
export type InstallMethod =
  | { readonly kind: 'root' }
  | { readonly kind: 'sudo' }
  | { readonly kind: 'manual'; readonly reason: string };

/** What decides the method; `sudoWorks` is asked only when needed (it runs `sudo -n true`). */
export interface InstallContext {
  readonly uid: number;
  readonly hasAptGet: boolean;
  readonly sudoWorks: () => boolean;
  /** --no-install: never install, only say what is missing. */
  readonly noInstall: boolean;
}

/** Root installs, a user with passwordless sudo installs through sudo, everyone else gets the command. */
export function installMethod(context: InstallContext): InstallMethod {
  if (context.noInstall) return { kind: 'manual', reason: '--no-install was given' };
  if (!context.hasAptGet) return { kind: 'manual', reason: 'no apt-get here (not Debian or Ubuntu)' };
  if (context.uid === 0) return { kind: 'root' };
  if (context.sudoWorks()) return { kind: 'sudo' };
  return { kind: 'manual', reason: 'not root, and no passwordless sudo' };
}

/** The context of this process. */
export function currentInstallContext(noInstall: boolean): InstallContext {
  const found = (command: string) =>
    spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
  return {
    uid: process.getuid?.() ?? -1,
    hasAptGet: found('apt-get'),
    sudoWorks: () => found('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0,
    noInstall,
  };
}

/**
 * Installs without questions and without recommended extras. A policy-rc.d that answers 101 ("action
 * forbidden") keeps the packages' services from being started by the install (removed afterwards if this
 * created it). On systemd machines a package's postinst may still *enable* its unit, so it would start at
 * the next boot: the README says how to disable them. The tests never use those services.
 */
export const INSTALL_SCRIPT = `set -e
created=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created=1
fi
trap 'if [ -n "$created" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@"
`;

/** The argv that runs INSTALL_SCRIPT for these packages (through `sudo -n` unless root). */
export function installArgv(method: 'root' | 'sudo', packages: readonly string[]): string[] {
  const sh = ['sh', '-c', INSTALL_SCRIPT, 'install-packages', ...packages];
  return method === 'sudo' ? ['sudo', '-n', ...sh] : sh;
}

/** Runs the install with its output on this terminal; resolves with apt-get's exit status. */
export function installPackages(method: 'root' | 'sudo', packages: readonly string[]): number {
  const [command, ...args] = installArgv(method, packages);
  return spawnSync(command!, args, { stdio: 'inherit' }).status ?? 1;
}
