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
