#!/usr/bin/env node
// parley-client: runs the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/parley-client-main.ts');
