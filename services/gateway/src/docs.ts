import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { pathParam, sendError, type GatewayRequest } from './http.js';
import { buildOpenApi } from './openapi.js';

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};
const DOCS_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LMS API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: true });`;

/** `/openapi.json` (built once from the contracts) and the Swagger UI at `/docs`. */
export function docsAliases() {
  const openapi = JSON.stringify(buildOpenApi());
  return {
    'GET /openapi.json': (_req: GatewayRequest, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' });
      res.end(openapi);
    },
    'GET /docs': (_req: GatewayRequest, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(DOCS_HTML);
    },
    'GET /docs/:file': (req: GatewayRequest, res: ServerResponse) => {
      const file = pathParam(req, 'file');
      if (file === 'init.js') {
        res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' });
        return res.end(DOCS_INIT);
      }
      const type = DOCS_FILES[file]; // a fixed list: no path from the URL reaches the disk
      if (!type) return sendError(req, res, { code: 'ROUTE_NOT_FOUND', status: 404, message: 'No such file' });
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
      res.end(readFileSync(path.join(swaggerDir, file)));
    },
  };
}
