import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** One file of the page, with its content type. */
export interface PageFile {
  readonly body: Buffer;
  readonly type: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The web admin page (plain files, no build step), served at `/` and `/kv/`. A fixed set of files read
 * once at start: no path from a request ever reaches the file system.
 */
export class AdminPage {
  private readonly files = new Map<string, PageFile>();

  /** Reads every file of a known type in `webDir`; without a directory the page is empty. */
  constructor(webDir: string | undefined) {
    if (!webDir) return;
    for (const name of readdirSync(webDir)) {
      const type = CONTENT_TYPES[extname(name)];
      if (type) this.files.set(`/${name}`, { body: readFileSync(join(webDir, name)), type });
    }
  }

  /** The file for a request path (`/`, `/kv` and `/kv/` mean index.html), if there is one. */
  file(path: string): PageFile | undefined {
    const local = path.startsWith('/kv/') ? path.slice(3) : path === '/kv' ? '/' : path;
    return this.files.get(local === '/' ? '/index.html' : local);
  }
}
