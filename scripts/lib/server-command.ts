import { ensureServerBuild } from '../server-build.mjs';

/**
 * V8 flags every Parley server process runs with. `npm start` and deploy/systemd/parley@.service spell
 * the same list (a unit test keeps them in step).
 *
 * --max-semi-space-size=64 (MB; Node 20's default grows to 16): a reconnect storm creates and drops
 * thousands of connections' objects at once, and with the small default most of them are copied out of
 * the young generation before they die. Measured on 10 000-client storms (alternating runs): 7–10 % fewer
 * node instructions per resumed client; steady chat traffic and the KV lane unchanged (docs/BENCHMARKS.md).
 * Costs up to ~190 MB of young generation per process when the load needs it.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/**
 * Arguments for `process.execPath` that run the server from the current sources: their JavaScript build
 * (made first when the sources changed; scripts/server-build.mjs), not `src/main.ts` under tsx, whose
 * loader costs each node 30–40 MB.
 */
export function serverArgs(extraNodeArgs: readonly string[] = [], appArgs: readonly string[] = []): string[] {
  return [...SERVER_NODE_FLAGS, ...extraNodeArgs, ensureServerBuild(), ...appArgs];
}
