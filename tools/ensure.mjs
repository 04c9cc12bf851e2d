// Installs dependencies when they are missing or older than the lockfile. Runs on any Node >= 18,
// before the project's own Node 24 (the `node` devDependency) is installed.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const marker = path.join(root, 'node_modules', '.modules.yaml');
const lock = path.join(root, 'pnpm-lock.yaml');
const stale = !fs.existsSync(marker) || fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs;
if (stale) {
  console.error('Installing dependencies (pnpm install --frozen-lockfile)…');
  execSync('pnpm install --frozen-lockfile', { cwd: root, stdio: 'inherit' });
}

// `pnpm test` (--test): the web app's browser tests drive Debian's Chromium (tools/test/web.int.test.ts; Playwright's
// own browser download does not work here). Installed once with apt when missing and we may; otherwise say how.
if (process.argv.includes('--test') && !fs.existsSync('/usr/bin/chromium')) {
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    console.error('Installing Chromium for the web app tests (apt-get install chromium)…');
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium', { stdio: 'inherit' });
  } else {
    console.error('The web app tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium');
  }
}

// `pnpm test` (--test): the search service's semantic index on the machine's PostgreSQL needs pgvector (Debian
// bookworm's server lacks it). tools/pgvector.mjs returns at once when the server has it, builds and installs it from
// Debian's source package when we are root, and otherwise says which command to run; never fatal here.
if (process.argv.includes('--test')) {
  const { ensurePgvector } = await import('./pgvector.mjs');
  try {
    ensurePgvector();
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n(the search tests on the machine's PostgreSQL need pgvector)`);
  }
}
