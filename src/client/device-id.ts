import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';

/** What the server accepts as a device name (docs/PROTOCOL.md, "Devices"). */
export const DEVICE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Where a client keeps its device name between runs (synchronous: read once, at construction). */
export interface DeviceStore {
  /** The stored device name, or undefined when none is stored (or it cannot be read). */
  load(): string | undefined;
  /**
   * Stores a newly generated name and returns the name now stored: another process that stored a valid one
   * first wins, so clients started together agree. May throw (the name is then used for this run only).
   */
  save(device: string): string;
}

/** True when the server would accept this device name. */
export function isValidDevice(device: string): boolean {
  return DEVICE_PATTERN.test(device);
}

/**
 * A new device name, `<host>-<8 hex>`: the host name (reduced to the allowed characters, at most 40 of
 * them) tells a person which machine it is; the random part keeps two installations on one host apart.
 */
export function generateDevice(
  host: string = hostname(),
  random: string = randomBytes(4).toString('hex'),
): string {
  const base = host
    .split('.')[0]!
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${base || 'device'}-${random}`;
}

/** `$XDG_CONFIG_HOME/parley/device`, else `~/.config/parley/device`. */
export function defaultDeviceFile(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const config = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(config, 'parley', 'device');
}

/** A device name kept in a file (one line); the directory is created on first save (mode 0700). */
export function fileDeviceStore(path: string): DeviceStore {
  return {
    load() {
      try {
        return readFileSync(path, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    },
    save(device) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(path, `${device}\n`, { mode: 0o600, flag: 'wx' });
        return device;
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error;
      }
      const current = this.load();
      if (current !== undefined && isValidDevice(current)) return current;
      writeFileSync(path, `${device}\n`, { mode: 0o600 });
      return device;
    },
  };
}

/** A store that keeps the name in memory only (tests, short-lived tools). */
export function memoryDeviceStore(initial?: string): DeviceStore & { value: string | undefined } {
  return {
    value: initial,
    load() {
      return this.value;
    },
    save(device) {
      this.value = device;
      return device;
    },
  };
}

/** Names already resolved in this process, per default file: thousands of clients read the file once. */
const resolvedDefaults = new Map<string, string>();

/**
 * The device name a client uses: the one given, else the stored one, else a new one that is stored. A
 * stored name the server would refuse is replaced. When nothing is given, the default file store is used,
 * and every client of the process shares its name — so two clients of one user in one process take each
 * other over, as before devices existed, unless given different `device`s.
 */
export function resolveDevice(given: string | undefined, store: DeviceStore | undefined): string {
  if (given !== undefined) {
    if (!isValidDevice(given))
      throw new TypeError(
        `device must be 1-64 characters of A-Z a-z 0-9 . _ : - (got ${JSON.stringify(given)})`,
      );
    return given;
  }
  if (store !== undefined) return loadOrCreate(store);
  const path = defaultDeviceFile();
  let device = resolvedDefaults.get(path);
  if (device === undefined) {
    device = loadOrCreate(fileDeviceStore(path));
    resolvedDefaults.set(path, device);
  }
  return device;
}

function loadOrCreate(store: DeviceStore): string {
  const stored = store.load();
  if (stored !== undefined && isValidDevice(stored)) return stored;
  const device = generateDevice();
  try {
    return store.save(device);
  } catch {
    // A read-only home: this run still has a device name; the next one makes another.
    return device;
  }
}
