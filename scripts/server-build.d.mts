/** The checkout scripts/server-build.mjs belongs to. */
export declare const ROOT: string;
/**
 * Makes sure a build of the current sources exists under dist/dev/ (keyed by a hash of them; built with
 * esbuild when missing) and returns the path of its `src/main.js`. `root`: @default ROOT
 */
export declare function ensureServerBuild(root?: string): string;
/** A failure whose message says what to do (e.g. dist/dev is another user's); `npm start` prints it without a stack. */
export declare class ServerBuildError extends Error {}
