// A small static file server for the browser demo and the browser tests. It binds 127.0.0.1
// only and sends the cross-origin isolation headers that WASM threads (SharedArrayBuffer) need.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';

/** URL path → file or bytes. A key ending in '/' maps a folder ('/wasm/' → '…/dist'): its files, by name. */
export type Routes = Record<string, string | Uint8Array>;

export interface StaticServer {
  /** e.g. http://127.0.0.1:40123 */
  origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.wasm': 'application/wasm', '.bin': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml',
};

function lookup(routes: Routes, path: string): string | Uint8Array | null {
  if (path in routes && !path.endsWith('/')) return routes[path];
  const slash = path.lastIndexOf('/') + 1;
  const folder = routes[path.slice(0, slash)];
  const name = path.slice(slash);
  // Files directly inside a mapped folder only: no '..', no sub-folders.
  if (typeof folder !== 'string' || name === '' || name.startsWith('.')) return null;
  return join(folder, name);
}

/** Serves `routes` on 127.0.0.1 (`port` 0: any free port). */
export async function serveStatic(routes: Routes, port = 0): Promise<StaticServer> {
  const server = createServer(async (req, res) => {
    const asked = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const path = asked === '/' ? '/index.html' : asked;
    const target = lookup(routes, path);
    try {
      if (target == null) throw new Error('no route');
      const body = typeof target === 'string' ? await readFile(target) : target;
      const type = TYPES[extname(typeof target === 'string' ? target : path)] ?? 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type, 'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`not found: ${path}\n`);
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
