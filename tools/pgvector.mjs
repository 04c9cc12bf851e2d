// pgvector for the machine's PostgreSQL server (the search service's semantic index, issue 16). PGlite bundles it; Debian
// bookworm's server does not, and bookworm's own postgresql-15-pgvector is 0.4 (no HNSW index). So this builds Debian
// trixie's source package (0.8) with PGXS against the machine's server:
// - the server's headers (postgresql-server-dev-<major>) and a C toolchain come from the machine's apt when missing, as
//   root only (CI is root; a developer who is not is told the command);
// - the source is fetched with apt using the cache's own package lists (a private sources.list with one deb-src line),
//   never the system's sources, into node_modules/.cache/pgvector, and built there without -march=native, so the
//   library runs on whichever CPU the cache moves to;
// - `make install` puts vector.so and vector.control where the server looks; CREATE EXTENSION needs no restart.
// Installed already (the control file and library in the server's folders): returns at once, without apt or make.
// Runs on any Node >= 18 (it is called before the project's own Node exists): `node tools/pgvector.mjs`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cacheRoot = path.join(root, 'node_modules', '.cache', 'pgvector');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const SUITE = 'trixie';

/** The server's pg_config: $PG_CONFIG, else that of the newest /usr/lib/postgresql/<major> with a server binary. */
function findPgConfig() {
  if (process.env.PG_CONFIG) return process.env.PG_CONFIG;
  const base = '/usr/lib/postgresql';
  const majors = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((d) => /^\d+$/.test(d) && fs.existsSync(path.join(base, d, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) return null;
  return path.join(base, majors[0], 'bin', 'pg_config');
}

function pgConfig(bin, flag) {
  return execFileSync(bin, [flag], { encoding: 'utf8' }).trim();
}

/** Where the server looks for extensions, and whether pgvector is there. */
export function pgvectorStatus(pgConfigBin = findPgConfig()) {
  if (!pgConfigBin || !fs.existsSync(pgConfigBin)) return { pgConfig: pgConfigBin, major: null, installed: false, reason: 'no PostgreSQL server found' };
  const major = pgConfig(pgConfigBin, '--version').match(/PostgreSQL (\d+)/)?.[1] ?? null;
  const control = path.join(pgConfig(pgConfigBin, '--sharedir'), 'extension', 'vector.control');
  const library = path.join(pgConfig(pgConfigBin, '--pkglibdir'), 'vector.so');
  return { pgConfig: pgConfigBin, major, control, library, installed: fs.existsSync(control) && fs.existsSync(library) };
}

function isInstalled(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('install ok installed');
  } catch {
    return false;
  }
}

function aptOptions(dir) {
  const etc = path.join(dir, 'etc');
  for (const d of [etc, path.join(dir, 'lists', 'partial'), path.join(dir, 'archives', 'partial')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(etc, 'sources.list'), `deb-src [signed-by=${KEYRING}] http://deb.debian.org/debian ${SUITE} main\n`);
  return [
    `-o=Dir::Etc::SourceList=${path.join(etc, 'sources.list')}`,
    '-o=Dir::Etc::SourceParts=/dev/null',
    `-o=Dir::State::Lists=${path.join(dir, 'lists')}`,
    `-o=Dir::Cache=${dir}`,
    '-o=Debug::NoLocking=1',
    '-o=APT::Get::List-Cleanup=0',
  ];
}

/**
 * Builds and installs pgvector when the server lacks it. Returns what it found or did; throws when it cannot install
 * (not root and packages missing, apt or make failing) with the reason and the command to run by hand.
 */
export function ensurePgvector(log = (m) => console.error(m)) {
  const status = pgvectorStatus();
  if (status.installed) return { ...status, action: 'present' };
  if (!status.major) throw new Error(`pgvector: ${status.reason ?? 'cannot tell the PostgreSQL version'}`);
  const isRoot = process.getuid?.() === 0;

  // The server's headers and PGXS, and a C compiler. postgresql-server-dev pulls clang/llvm for JIT bitcode, which
  // the build below turns off (with_llvm=no): only gcc and make are used.
  const needed = [`postgresql-server-dev-${status.major}`, 'make', 'gcc', 'libc6-dev', 'dpkg-dev'].filter((p) => !isInstalled(p));
  if (needed.length > 0) {
    const cmd = `apt-get update && apt-get install -y --no-install-recommends ${needed.join(' ')}`;
    if (!isRoot) throw new Error(`pgvector: building it needs ${needed.join(', ')}: sudo sh -c '${cmd}', then node tools/pgvector.mjs`);
    log(`pgvector: installing ${needed.join(', ')} (apt-get)`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...needed], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }

  const src = fetchSource(log);
  const makeArgs = [`PG_CONFIG=${status.pgConfig}`, 'USE_PGXS=1', 'OPTFLAGS=', 'with_llvm=no'];
  if (!fs.existsSync(path.join(src, 'vector.so'))) {
    log(`pgvector: building ${path.relative(root, src)}`);
    execFileSync('make', ['-C', src, '-j2', ...makeArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (!isRoot)
    throw new Error(`pgvector: built in ${src}; installing it into the server's folders needs root: sudo make -C ${src} install ${makeArgs.join(' ')}`);
  execFileSync('make', ['-C', src, 'install', ...makeArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
  const after = pgvectorStatus(status.pgConfig);
  if (!after.installed) throw new Error(`pgvector: make install did not put ${after.control} and ${after.library} in place`);
  log(`pgvector: installed ${path.basename(src)} for PostgreSQL ${status.major}`);
  return { ...after, action: 'installed' };
}

/** The unpacked source tree in the cache, fetched with `apt-get source` from trixie on first use. */
function fetchSource(log) {
  const existing = fs.existsSync(cacheRoot) ? fs.readdirSync(cacheRoot).filter((d) => /^pgvector-\d/.test(d)) : [];
  if (existing.length > 0) return path.join(cacheRoot, existing.sort().at(-1));
  log(`pgvector: fetching the source package from Debian ${SUITE} into ${path.relative(root, cacheRoot)}`);
  // Fetched and unpacked into a fresh folder, then renamed: a run killed half-way leaves nothing that looks complete.
  const work = path.join(cacheRoot, `tmp-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  try {
    const opts = aptOptions(path.join(cacheRoot, 'apt'));
    execFileSync('apt-get', [...opts, '-qq', 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    // Unpacked by dpkg-source (Debian's patches applied); as root apt hands the download to the _apt user, who may not
    // write here, so it runs unsandboxed.
    execFileSync('apt-get', [...opts, '-qq', '-o=APT::Sandbox::User=root', 'source', 'pgvector'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    const dir = fs.readdirSync(work).find((d) => /^pgvector-\d/.test(d) && fs.statSync(path.join(work, d)).isDirectory());
    if (!dir) throw new Error('apt-get source unpacked no pgvector-<version> folder');
    fs.renameSync(path.join(work, dir), path.join(cacheRoot, dir));
    return path.join(cacheRoot, dir);
  } catch (err) {
    const stderr = err && typeof err === 'object' && 'stderr' in err && err.stderr ? String(err.stderr) : '';
    throw new Error(`pgvector: could not fetch the source from Debian ${SUITE}: ${err instanceof Error ? err.message : String(err)} ${stderr}`.trim(), {
      cause: err,
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// `node tools/pgvector.mjs`: install it when missing (exit 1 with the reason when that is impossible).
if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  try {
    const r = ensurePgvector();
    console.log(`pgvector ${r.action === 'present' ? 'already installed' : 'installed'}: ${r.library}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
