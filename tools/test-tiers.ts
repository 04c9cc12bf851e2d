/**
 * `pnpm test`'s test run: the `unit` tier, then the `int` tier (vitest.config.ts), each its own vitest process,
 * and a line with each tier's wall time. Stops at the first tier that fails. Extra arguments go to both runs
 * (e.g. `pnpm test -- --reporter=dot`); `--only unit` or `--only int` runs one tier.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')); // `pnpm test -- …` passes the `--` on
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const tiers = (['unit', 'int'] as const).filter((t) => !only || t === only);
const vitest = path.join(root, 'node_modules/.bin/vitest');

const times: string[] = [];
let status = 0;
for (const tier of tiers) {
  const started = performance.now();
  // Unit files start no servers: they may run side by side, and share one module cache per worker (--no-isolate:
  // a third of the CPU time; projects cannot set either option).
  const parallel = tier === 'unit' ? ['--fileParallelism', '--no-isolate'] : [];
  const r = spawnSync(vitest, ['run', '--project', tier, '--passWithNoTests', ...parallel, ...args], { cwd: root, stdio: 'inherit' });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  times.push(`${tier}: ${seconds}s${r.status === 0 ? '' : ' (failed)'}`);
  status = r.status ?? 1;
  if (status !== 0) break;
}
console.log(`\ntest tiers — ${times.join(', ')}`);
process.exit(status);
