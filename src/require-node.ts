/**
 * Refuses an old Node.js with one clear line before anything else runs. Every entry point (server,
 * client, scripts, benchmarks) imports this module first: ES modules run in import order, so the check
 * comes before any module that could fail on an old Node. (A named import of an export that an old Node
 * lacks fails before any code runs at all, so such exports are reached through the module object, as
 * src/kv/kv-log.ts does with `zlib.crc32`.)
 */
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
