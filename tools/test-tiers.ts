/**
 * `pnpm test`'s test run: the `lint` tier (ESLint, Prettier's check), the `unit` tier, then the `int` tier
 * (vitest.config.ts), each its own process,
 * and a line with each tier's wall time. Stops at the first tier that fails. Extra arguments go to both runs
 * (e.g. `pnpm test -- --reporter=dot`); `--only lint|unit|int` runs one tier.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')); // `pnpm test -- …` passes the `--` on
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const tiers = (['lint', 'unit', 'int'] as const).filter((t) => !only || t === only);
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
const vitest = bin('vitest');

/** ESLint (typescript-eslint, type-aware) and Prettier's check: the lint tier. */
function lint(): number {
  for (const [cmd, cmdArgs] of [
    [bin('eslint'), ['.']],
    [bin('prettier'), ['--check', '--log-level', 'warn', '.']],
  ] as const) {
    const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

const times: string[] = [];
let status = 0;
for (const tier of tiers) {
  const started = performance.now();
  if (tier === 'lint') {
    status = lint();
    times.push(`lint: ${((performance.now() - started) / 1000).toFixed(1)}s${status === 0 ? '' : ' (failed)'}`);
    if (status !== 0) break;
    continue;
  }
  // Unit files start no servers: they run side by side on two workers (vitest's default is one fewer than the cores:
  // one here; two halve the tier), and share one module cache per worker (--no-isolate:
  // a third of the CPU time; projects cannot set either option).
  const parallel = tier === 'unit' ? ['--fileParallelism', '--no-isolate', '--maxWorkers=2', '--minWorkers=2'] : [];
  const r = spawnSync(vitest, ['run', '--project', tier, '--passWithNoTests', ...parallel, ...args], { cwd: root, stdio: 'inherit' });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  times.push(`${tier}: ${seconds}s${r.status === 0 ? '' : ' (failed)'}`);
  status = r.status ?? 1;
  if (status !== 0) break;
}
console.log(`\ntest tiers — ${times.join(', ')}`);
process.exit(status);
