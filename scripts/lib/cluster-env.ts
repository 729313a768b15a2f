import { configSchema } from '../../src/config.js';

/**
 * Variables a local cluster sets for each node itself (addresses, ports, the node's name, the shared
 * database and Redis): a value from the caller would break the cluster, so they always win.
 */
export const CLUSTER_OWNED: ReadonlySet<string> = new Set([
  'NODE_ID',
  'CHAT_HOST',
  'CHAT_PORT',
  'ADMIN_HOST',
  'ADMIN_PORT',
  'MYSQL_URL',
  'REDIS_URL',
]);

/** A `--env` flag or an inherited variable the cluster cannot pass on; the message is one line. */
export class NodeSettingError extends Error {
  override readonly name = 'NodeSettingError';
}

/** The settings every node of a local cluster gets, and where each came from. */
export interface NodeSettings {
  readonly env: Readonly<Record<string, string>>;
  /** Names taken from the caller's environment. */
  readonly inherited: readonly string[];
  /** Names given with `--env`. */
  readonly flags: readonly string[];
}

function check(name: string, value: string, source: string): void {
  const field = configSchema.shape[name as keyof typeof configSchema.shape];
  const parsed = field.safeParse(value);
  if (!parsed.success)
    throw new NodeSettingError(
      `${name}=${value} (${source}): ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
}

/**
 * Parley's settings (the variables of the config schema) found in `callerEnv`, overridden by `--env
 * KEY=VALUE` flags, without the per-node variables the cluster sets itself. An unknown or cluster-owned
 * name in a flag, a flag without `=`, or a value the schema rejects is a NodeSettingError.
 */
export function nodeSettings(callerEnv: NodeJS.ProcessEnv, envFlags: readonly string[]): NodeSettings {
  const known = new Set(Object.keys(configSchema.shape));
  const env: Record<string, string> = {};
  const inherited: string[] = [];
  for (const name of known) {
    const value = callerEnv[name];
    if (value === undefined || value === '' || CLUSTER_OWNED.has(name)) continue;
    check(name, value, 'from the environment');
    env[name] = value;
    inherited.push(name);
  }
  const flags: string[] = [];
  for (const flag of envFlags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new NodeSettingError(`--env ${flag}: expected KEY=VALUE`);
    const name = flag.slice(0, eq);
    const value = flag.slice(eq + 1);
    if (!known.has(name))
      throw new NodeSettingError(`--env ${name}: not a Parley setting (npm start -- --help lists them)`);
    if (CLUSTER_OWNED.has(name))
      throw new NodeSettingError(
        name.endsWith('_URL')
          ? `--env ${name}: the cluster sets it for every node; export ${name}=… to use your own server`
          : `--env ${name}: the cluster sets it for each node itself`,
      );
    check(name, value, '--env');
    env[name] = value;
    if (!flags.includes(name)) flags.push(name);
  }
  return { env, inherited: inherited.filter((name) => !flags.includes(name)), flags };
}
