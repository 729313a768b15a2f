/**
 * The oldest Node.js Parley runs on: 20.15 is the first 20.x with `zlib.crc32` (the KV logs' checksums).
 * package.json's `engines` states the same (a unit test keeps them in step).
 */
export const MINIMUM_NODE = '20.15.0';

function parts(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Why this Node version cannot run Parley (one line), or undefined when it can. */
export function nodeVersionProblem(version: string, minimum: string = MINIMUM_NODE): string | undefined {
  const have = parts(version);
  const need = parts(minimum)!;
  if (have !== undefined) {
    for (let i = 0; i < 3; i++) {
      if (have[i]! > need[i]!) return undefined;
      if (have[i]! < need[i]!) break;
      if (i === 2) return undefined;
    }
  }
  const [major, minor] = need;
  return (
    `Parley needs Node.js ${major}.${minor} or newer; this is Node.js ${version.replace(/^v/, '')} ` +
    `(install Node 20 or 22: see "Node.js" in README.md)`
  );
}
