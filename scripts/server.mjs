// `npm start`: the server from the current sources, as plain JavaScript (built first when the sources
// changed; scripts/server-build.mjs), in this process — the node flags of the npm script apply to the
// server itself and signals reach it directly.
import { pathToFileURL } from 'node:url';
import { ensureServerBuild, ServerBuildError } from './server-build.mjs';

let main;
try {
  main = ensureServerBuild();
} catch (error) {
  if (!(error instanceof ServerBuildError)) throw error;
  process.stderr.write(`parley: ${error.message}\n`);
  process.exit(1);
}
await import(pathToFileURL(main).href);
