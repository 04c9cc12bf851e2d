// Programs the tests and benches need beside the machine's servers, from Debian's packages, without installing
// them system-wide: the .deb files are fetched with apt (`apt-get download`, the suite's own package lists kept in
// the cache, never the system's sources) and unpacked with `dpkg -x` under node_modules/.cache/debs/<name>.
// Used for a NATS server newer than the system's 2.9 (sid's 2.15, for the 3-node cluster tests) and HAProxy (two
// gateways behind a load balancer). Runs on any Node >= 18; importable from tests, benches and scripts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cacheRoot = path.join(root, 'node_modules', '.cache', 'debs');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The programs this project takes from Debian. `suite` absent: the machine's own package lists (bookworm);
 * otherwise that suite's lists, fetched into the cache. `packages`: the program's package and the libraries
 * the machine lacks (found with `ldd`).
 */
export const DEBS = {
  'nats-server': { suite: 'sid', packages: ['nats-server'], binary: 'usr/sbin/nats-server' },
  haproxy: { packages: ['haproxy', 'liblua5.3-0', 'libopentracing-c-wrapper0', 'libopentracing1'], binary: 'usr/sbin/haproxy' },
};

function aptOptions(dir, suite) {
  if (!suite) return [];
  const etc = path.join(dir, 'etc');
  for (const d of [etc, path.join(dir, 'lists', 'partial'), path.join(dir, 'archives', 'partial')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(etc, 'sources.list'), `deb [signed-by=${KEYRING}] http://deb.debian.org/debian ${suite} main\n`);
  return [
    `-o=Dir::Etc::SourceList=${path.join(etc, 'sources.list')}`,
    '-o=Dir::Etc::SourceParts=/dev/null',
    `-o=Dir::State::Lists=${path.join(dir, 'lists')}`,
    `-o=Dir::Cache=${dir}`,
    '-o=Debug::NoLocking=1',
    '-o=APT::Get::List-Cleanup=0',
  ];
}

function libraryPath(dir) {
  const dirs = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.so(\.|$)/.test(e.name)) dirs.add(d);
    }
  };
  walk(dir);
  return [...dirs].join(':');
}

/**
 * The path of a program from DEBS, fetched and unpacked on first use (a few seconds), and the environment it runs
 * with (LD_LIBRARY_PATH for the libraries unpacked beside it). `log` hears what is being fetched.
 */
export function debBinary(name, log = (m) => console.error(m)) {
  const spec = DEBS[name];
  if (!spec) throw new Error(`no Debian program ${name} (known: ${Object.keys(DEBS).join(', ')})`);
  const dir = path.join(cacheRoot, name);
  const bin = path.join(dir, 'root', spec.binary);
  if (!fs.existsSync(bin)) {
    log(`fetching ${spec.packages.join(', ')} from Debian${spec.suite ? ` ${spec.suite}` : ''} into ${path.relative(root, dir)}`);
    // Unpacked into a fresh folder, then renamed: a run killed half-way leaves nothing that looks complete.
    const work = `${dir}.tmp-${process.pid}`;
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    try {
      const opts = aptOptions(path.join(cacheRoot, `apt-${spec.suite ?? 'system'}`), spec.suite);
      if (spec.suite) execFileSync('apt-get', [...opts, '-qq', 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
      execFileSync('apt-get', [...opts, '-qq', 'download', ...spec.packages], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
      for (const deb of fs.readdirSync(work).filter((f) => f.endsWith('.deb'))) {
        execFileSync('dpkg', ['-x', path.join(work, deb), path.join(work, 'root')]);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(work, dir);
    } catch (err) {
      fs.rmSync(work, { recursive: true, force: true });
      throw new Error(`could not fetch ${name} from Debian's packages: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  const libs = libraryPath(path.join(dir, 'root'));
  const env = libs ? { LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {};
  return { path: bin, env };
}

// `node tools/debs.mjs nats-server haproxy`: fetch them ahead of a test run.
if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  for (const name of process.argv.slice(2)) {
    const { path: bin, env } = debBinary(name);
    console.log(execFileSync(bin, [name === 'haproxy' ? '-v' : '--version'], { env: { ...process.env, ...env }, encoding: 'utf8' }).split('\n')[0]);
  }
}
