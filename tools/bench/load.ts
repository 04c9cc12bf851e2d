import http from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  /** Open loop only: when each request was due (epoch ms) and its latency, for per-second windows. */
  samples?: Array<[number, number]>;
}

/** One second of an open-loop run: its requests' p99 and slowest. */
export interface Window {
  /** Start of the second, epoch ms. */
  at: number;
  requests: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function summarize(latencies: number[], errors: number, seconds: number): LoadResult {
  const sorted = Float64Array.from(latencies).sort();
  const arr = Array.from(sorted);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(arr, 50),
    p95: percentile(arr, 95),
    p99: percentile(arr, 99),
    p999: percentile(arr, 99.9),
  };
}

/** The run cut into one-second windows by when requests were due, worst (highest p99) first. */
export function windows(samples: ReadonlyArray<[number, number]>): Window[] {
  const by = new Map<number, number[]>();
  for (const [due, ms] of samples) {
    const at = Math.floor(due / 1000) * 1000;
    let list = by.get(at);
    if (!list) by.set(at, (list = []));
    list.push(ms);
  }
  return [...by.entries()]
    .map(([at, ms]) => {
      const sorted = ms.sort((a, b) => a - b);
      return { at, requests: sorted.length, p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
    })
    .sort((a, b) => b.p99 - a.p99);
}

function once(agent: http.Agent, url: URL, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Closed loop: `connections` clients back to back for `seconds`. Measures capacity. */
export async function closedLoop(target: string, headers: Record<string, string>, connections: number, seconds: number): Promise<LoadResult> {
  const url = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const status = await once(agent, url, headers).catch(() => 0);
        if (status === 200) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  agent.destroy();
  return summarize(latencies, errors, (performance.now() - started) / 1000);
}

/** Open loop: requests start on schedule at `rate`/s whatever the answers do. Measures latency at a load. */
export async function openLoop(target: string, headers: Record<string, string>, rate: number, seconds: number): Promise<LoadResult> {
  const url = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const samples: Array<[number, number]> = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Latency counts from when the request was due, so a stalled generator cannot hide queueing.
    const from = Math.min(due, performance.now()); // early: from the send; late: from when it was due
    inflight.push(
      once(agent, url, headers).then(
        (status) => {
          if (status !== 200) return void errors++;
          const ms = performance.now() - from;
          latencies.push(ms);
          samples.push([performance.timeOrigin + due, ms]);
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  return { ...summarize(latencies, errors, (performance.now() - started) / 1000), samples };
}
