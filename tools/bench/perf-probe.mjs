/**
 * Preloaded into every process of a bench run (`node --import ./tools/bench/perf-probe.mjs`) when BENCH_PERF_DIR is
 * set: once a second it appends one JSON line to BENCH_PERF_DIR/<name>-<pid>.jsonl with that second's garbage
 * collections (count, total and longest pause, by kind) and event-loop delay (p99 and max), so a bad second in a
 * latency run can be lined up with what the processes were doing. Costs one histogram and one observer per process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';

const dir = process.env.BENCH_PERF_DIR;
if (dir) {
  const name = (process.env.NODE_ID ?? path.basename(process.argv[1] ?? 'node')).replace(/[^\w.-]/g, '_');
  const file = path.join(dir, `${name}-${process.pid}.jsonl`);
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  let gc = { count: 0, ms: 0, maxMs: 0, byKind: {} };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[e.detail?.kind] ?? 'other';
      gc.count++;
      gc.ms += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      gc.byKind[kind] = (gc.byKind[kind] ?? 0) + 1;
    }
  }).observe({ entryTypes: ['gc'] });
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  fs.mkdirSync(dir, { recursive: true });
  setInterval(() => {
    const line = {
      t: Date.now(),
      gcCount: gc.count,
      gcMs: Number(gc.ms.toFixed(2)),
      gcMaxMs: Number(gc.maxMs.toFixed(2)),
      gcKinds: gc.byKind,
      eldP99Ms: Number((eld.percentile(99) / 1e6).toFixed(2)),
      eldMaxMs: Number((eld.max / 1e6).toFixed(2)),
      rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
    gc = { count: 0, ms: 0, maxMs: 0, byKind: {} };
    eld.reset();
    fs.appendFile(file, `${JSON.stringify(line)}\n`, () => {});
  }, 1000).unref();
}
