// Compiles the LMS command (tools/cli.ts and every workspace module it imports) into one JavaScript file,
// dist/cli.mjs, which `pnpm start`, `pnpm lms`, every mesh node and the container image run with plain `node`.
//
// Cached: a hash of the sources, the package manifests, the lockfile and this script is kept in dist/.stamp;
// the build runs only when it changed (`--force` to build anyway, `--check` to exit 1 when stale).
// Plain JavaScript so that checking the stamp costs one small Node process and no TypeScript loader.
//
// Only the workspace's own code (contracts, services, tools) is bundled. Third-party packages stay as they are in
// node_modules: native and WebAssembly ones (sharp, argon2, PGlite, ffmpeg) and the ones that find files beside
// themselves (swagger-ui-dist, oidc-provider's views) must, and Node loads them from there as fast either way.
// Their imports are rewritten to the file each resolves to (relative to dist/), because pnpm installs a package's
// dependencies beside that package, not at the root where dist/ lives.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'dist');
const outfile = path.join(outdir, 'cli.mjs');
const stampFile = path.join(outdir, '.stamp');

/** Every file whose change can change the build. */
function inputs() {
  const files = [path.join(root, 'pnpm-lock.yaml'), path.join(root, 'package.json'), import.meta.filename];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'test' || e.name === 'dist') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs|json)$/.test(e.name)) files.push(p);
    }
  };
  for (const dir of ['contracts', 'clients/src', 'services', 'tools']) {
    const p = path.join(root, dir);
    if (fs.existsSync(p)) walk(p);
  }
  for (const pkg of ['contracts', 'clients']) files.push(path.join(root, pkg, 'package.json'));
  return [...new Set(files)].filter((f) => fs.existsSync(f)).sort();
}

export function sourceHash() {
  const h = createHash('sha256');
  for (const f of inputs()) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function isFresh(hash = sourceHash()) {
  try {
    return fs.readFileSync(stampFile, 'utf8').trim() === hash && fs.existsSync(outfile);
  } catch {
    return false;
  }
}

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const inNodeModules = (p) => p.split(path.sep).includes('node_modules');

/** Keeps third-party packages out of the bundle, imported from where they resolve. */
const thirdPartyExternal = {
  name: 'third-party-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (builtins.has(args.path) || args.pluginData?.resolving) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { resolving: true } });
      if (r.errors.length) return { errors: r.errors };
      if (!inNodeModules(r.path)) return { path: r.path };
      let rel = path.relative(outdir, r.path).split(path.sep).join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return { path: rel, external: true };
    });
  },
};

/**
 * `import.meta.url` and `import.meta.dirname` keep meaning the source file's location (where its package's
 * dependencies and data resolve from), computed from dist/'s own location at run time, so the tree can move.
 */
const sourceLocation = {
  name: 'source-location',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
      if (inNodeModules(args.path)) return undefined;
      let text = await fs.promises.readFile(args.path, 'utf8');
      if (text.includes('import.meta.')) {
        const rel = (p) => JSON.stringify(path.relative(outdir, p).split(path.sep).join('/'));
        text = text
          .replaceAll('import.meta.url', `new URL(${rel(args.path)}, import.meta.url).href`)
          .replaceAll('import.meta.dirname', `__lmsFileURLToPath(new URL(${rel(path.dirname(args.path))}, import.meta.url))`)
          .replaceAll('import.meta.filename', `__lmsFileURLToPath(new URL(${rel(args.path)}, import.meta.url))`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

export async function build() {
  const esbuild = await import('esbuild');
  const started = performance.now();
  const hash = sourceHash();
  fs.mkdirSync(outdir, { recursive: true });
  // Written beside, then renamed over: a node starting meanwhile reads the old file or the new one, never half.
  const tmp = path.join(outdir, `cli.${process.pid}.tmp.mjs`);
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'tools/cli.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Node's own conditions, not esbuild's default `module`: a package then loads the same file as under tsx.
    conditions: ['node'],
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    banner: { js: "import { fileURLToPath as __lmsFileURLToPath } from 'node:url';" },
    plugins: [thirdPartyExternal, sourceLocation],
  });
  fs.writeFileSync(`${tmp}.map`, fs.readFileSync(`${tmp}.map`, 'utf8').replaceAll(path.basename(tmp), 'cli.mjs'));
  fs.writeFileSync(tmp, fs.readFileSync(tmp, 'utf8').replace(`sourceMappingURL=${path.basename(tmp)}.map`, 'sourceMappingURL=cli.mjs.map'));
  fs.renameSync(`${tmp}.map`, `${outfile}.map`);
  fs.renameSync(tmp, outfile);
  fs.writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  fs.writeFileSync(stampFile, `${hash}\n`);
  return { ms: performance.now() - started, bytes: fs.statSync(outfile).size };
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) {
  const force = process.argv.includes('--force');
  const hash = sourceHash();
  if (process.argv.includes('--check')) process.exit(isFresh(hash) ? 0 : 1);
  if (force || !isFresh(hash)) {
    const r = await build();
    console.error(`built dist/cli.mjs (${(r.bytes / 1024).toFixed(0)} KiB) in ${(r.ms / 1000).toFixed(1)} s`);
  }
}
