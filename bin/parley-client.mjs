#!/usr/bin/env node
// parley-client. In a checkout with its development dependencies (npm install) it runs the TypeScript
// sources through tsx: no build step, and edits take effect at once. In a production install without tsx
// (npm ci --omit=dev) it runs the compiled client from `npm run build` (dist/src/cli/).
let tsx;
try {
  tsx = await import('tsx/esm/api');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
}
if (tsx) {
  tsx.register();
  // First, so an old Node.js is refused in one line before anything else loads.
  await import('../src/require-node.ts');
  await import('../src/cli/parley-client-main.ts');
} else {
  const { existsSync } = await import('node:fs');
  const main = new URL('../dist/src/cli/parley-client-main.js', import.meta.url);
  if (!existsSync(main)) {
    process.stderr.write(
      'parley-client: neither tsx (npm install) nor the compiled client (npm run build) is here\n',
    );
    process.exit(1);
  }
  await import(new URL('../dist/src/require-node.js', import.meta.url).href);
  await import(main.href);
}
