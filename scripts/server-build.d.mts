/** The checkout scripts/server-build.mjs belongs to. */
export declare const ROOT: string;
/**
 * Makes sure a build of the current sources exists under dist/dev/ (keyed by a hash of them; built with
 * esbuild when missing) and returns the path of its `src/main.js`. `root`: @default ROOT
 */
export declare function ensureServerBuild(root?: string): string;
