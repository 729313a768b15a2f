// `npm start`: the server from the current sources, as plain JavaScript (built first when the sources
// changed; scripts/server-build.mjs), in this process — the node flags of the npm script apply to the
// server itself and signals reach it directly.
import { pathToFileURL } from 'node:url';
import { ensureServerBuild } from './server-build.mjs';

await import(pathToFileURL(ensureServerBuild()).href);
