// Builds the web app (clients/web, Vite) into clients/web/dist/, which the gateway serves at `/`: index.html, and
// hashed files under assets/ with a gzip and a Brotli copy beside each (the gateway sends one the browser accepts).
//
// Cached like tools/build.mjs: a hash of the app's sources, the typed client it bundles, the lockfile and this script
// is kept in clients/web/dist/.stamp; the build runs only when it changed (`--force` to build anyway, `--check` to exit
// 1 when stale). It builds into a folder of its own and then takes dist/'s place, so a running gateway never serves a
// half-written app.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'clients/web');
const dist = path.join(web, 'dist');
const stampFile = path.join(dist, '.stamp');

/** Every file whose change can change the app's bundle. */
function inputs() {
  const files = [path.join(root, 'pnpm-lock.yaml'), import.meta.filename, path.join(root, 'clients/package.json')];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('dist.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.md')) files.push(p); // the docs do not change the bundle
    }
  };
  walk(web);
  walk(path.join(root, 'clients/src'));
  return [...new Set(files)].filter((f) => fs.existsSync(f)).sort();
}

export function webSourceHash() {
  const h = createHash('sha256');
  for (const f of inputs()) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function isWebFresh(hash = webSourceHash()) {
  try {
    return fs.readFileSync(stampFile, 'utf8').trim() === hash && fs.existsSync(path.join(dist, 'index.html'));
  } catch {
    return false;
  }
}

const COMPRESSIBLE = /\.(js|css|html|svg|json|txt)$/;

/** Writes file.gz and file.br beside each compressible file of the build (served by the gateway, web.ts). */
function precompress(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) precompress(p);
    else if (COMPRESSIBLE.test(e.name)) {
      const body = fs.readFileSync(p);
      fs.writeFileSync(`${p}.gz`, zlib.gzipSync(body, { level: 9 }));
      fs.writeFileSync(`${p}.br`, zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
    }
  }
}

export function buildWeb() {
  const started = performance.now();
  const hash = webSourceHash();
  const tmp = path.join(web, `dist.${process.pid}.tmp`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const vite = path.join(web, 'node_modules/vite/bin/vite.js');
  // NODE_ENV=production whoever calls (a test runs with NODE_ENV=test, which would give React's development build).
  execFileSync(process.execPath, [vite, 'build', '--outDir', tmp, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: web,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  precompress(tmp);
  fs.writeFileSync(path.join(tmp, '.stamp'), `${hash}\n`);
  const old = path.join(web, `dist.${process.pid}.old`);
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(tmp, dist);
  fs.rmSync(old, { recursive: true, force: true });
  return { ms: performance.now() - started };
}

/** Builds the app when its sources changed (or with force); answers whether it built. */
export function ensureWeb({ force = false } = {}) {
  if (!force && isWebFresh()) return false;
  const r = buildWeb();
  console.error(`built clients/web/dist in ${(r.ms / 1000).toFixed(1)} s`);
  return true;
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) {
  if (process.argv.includes('--check')) process.exit(isWebFresh() ? 0 : 1);
  ensureWeb({ force: process.argv.includes('--force') });
}
