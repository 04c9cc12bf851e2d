import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { pathParam, type GatewayRequest } from './http.js';

/** Where tools/build-web.mjs writes the web app (clients/web/dist), from this file's place in the workspace. */
export const WEB_DIR = path.resolve(import.meta.dirname, '../../../clients/web/dist');

/**
 * The app's Content Security Policy: its own scripts, styles and API only; no inline scripts or styles (React sets
 * style properties through the CSSOM, which CSP allows), no plugins, no framing.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The names of the hashed files under /assets, and how long they may be kept (a new build has new names). */
const ASSET_NAME = /^[\w.-]+\.(js|css|svg|png|webp|woff2)$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Paths of the API and the server's own pages: never answered with the app's shell, whatever the browser asks. */
const NOT_THE_APP = /^\/(api|trpc|openapi\.json|docs|health|metrics|verify|\.well-known|credentials|assets)(\/|$)/;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The precompressed copy (tools/build-web.mjs) the client accepts: Brotli, else gzip, else the file itself. */
function pick(req: GatewayRequest, file: string): { file: string; encoding?: string } {
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (/\bbr\b/.test(accept) && fs.existsSync(`${file}.br`)) return { file: `${file}.br`, encoding: 'br' };
  if (/\bgzip\b/.test(accept) && fs.existsSync(`${file}.gz`)) return { file: `${file}.gz`, encoding: 'gzip' };
  return { file };
}

function sendFile(req: GatewayRequest, res: ServerResponse, file: string, headers: Record<string, string>): boolean {
  const chosen = pick(req, file);
  let body: Buffer;
  try {
    body = fs.readFileSync(chosen.file);
  } catch {
    return false;
  }
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  res.setHeader('Vary', 'Accept-Encoding');
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag, ...headers });
    res.end();
    return true;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
    ETag: etag,
    ...(chosen.encoding ? { 'Content-Encoding': chosen.encoding } : {}),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** index.html: revalidated on every load (it names the current hashed files), under the app's CSP. */
function sendShell(req: GatewayRequest, res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', WEB_CSP);
  if (sendFile(req, res, path.join(WEB_DIR, 'index.html'), { 'Cache-Control': 'no-cache' })) return;
  // Not built (a checkout that never ran `pnpm start` or `pnpm build`): say so instead of a bare 404.
  const body = '<!doctype html><html lang="en"><meta charset="utf-8"><title>LMS</title><p>The web app is not built: run <code>pnpm build</code>.</p></html>';
  res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': '60' });
  res.end(body);
}

/**
 * Whether an unrouted request is a browser asking for one of the app's pages (a client-side route such as
 * /courses/…): a GET or HEAD for HTML outside the API's and the server's own paths. Everything else keeps its JSON 404.
 */
export function wantsAppShell(req: GatewayRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const url = (req.originalUrl ?? req.url ?? '/').split('?')[0] ?? '/';
  return !NOT_THE_APP.test(url) && String(req.headers.accept ?? '').includes('text/html');
}

/**
 * What no route took (moleculer-web's send404, gateway.service.ts): a HEAD of the app's own files (its aliases are
 * GET only), or a browser asking for one of the app's pages. Answers whether it answered.
 */
export function serveUnrouted(req: GatewayRequest, res: ServerResponse): boolean {
  const url = (req.originalUrl ?? req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'HEAD') {
    if (url === '/') return (sendShell(req, res), true);
    const asset = /^\/assets\/([^/]+)$/.exec(url)?.[1];
    if (asset && ASSET_NAME.test(asset)) return sendFile(req, res, path.join(WEB_DIR, 'assets', asset), { 'Cache-Control': IMMUTABLE });
  }
  if (!wantsAppShell(req)) return false;
  sendShell(req, res);
  return true;
}

/** The web app at `/`: its shell, its hashed files under /assets (cached for a year: a new build has new names). */
export function webAliases() {
  return {
    'GET /': sendShell,
    'GET /assets/:file': (req: GatewayRequest, res: ServerResponse, next: (err?: unknown) => void) => {
      const name = pathParam(req, 'file');
      if (!ASSET_NAME.test(name) || !sendFile(req, res, path.join(WEB_DIR, 'assets', name), { 'Cache-Control': IMMUTABLE })) {
        next(Object.assign(new Error('No such file'), { name: 'NotFoundError', code: 404, type: 'NOT_FOUND' }));
      }
    },
    'GET /favicon.svg': (req: GatewayRequest, res: ServerResponse, next: (err?: unknown) => void) => {
      if (!sendFile(req, res, path.join(WEB_DIR, 'favicon.svg'), { 'Cache-Control': 'public, max-age=86400' }))
        next(Object.assign(new Error('No such file'), { name: 'NotFoundError', code: 404, type: 'NOT_FOUND' }));
    },
  };
}
