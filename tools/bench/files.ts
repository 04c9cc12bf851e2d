/** (d) Files: 1 GiB through the gateway to local disk and S3, beside plain disk writes and cp. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, benchStack, f, freePort, memOf, start, table } from './common.ts';
import { http as req, waitFor } from '../test/support.ts';

/** (d) Files: bytes in and out through the gateway, local disk and S3, beside plain disk writes and cp. */
export async function filesBench(): Promise<string> {
  const { default: S3rver } = await import('s3rver');
  const { execFileSync } = await import('node:child_process');
  const { Readable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const http = await import('node:http');
  const MIB = Number(args.mib);
  const bytes = MIB * 1024 * 1024;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-files-bench-'));
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const source = () => {
    let n = 0;
    return new Readable({
      read() {
        this.push(n++ < MIB ? chunk : null);
      },
    });
  };
  const rows: (string | number)[][] = [];
  const timeIt = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  // Baselines: the bench process streams the same bytes to a file; cp copies that file.
  const plain = path.join(work, 'plain.bin');
  const tPlain = await timeIt(() => pipeline(source(), fs.createWriteStream(plain)));
  rows.push(['stream to disk (baseline)', f(MIB / tPlain, 0), '–', '–']);
  const tCp = await timeIt(async () => execFileSync('cp', [plain, path.join(work, 'copy.bin')]));
  rows.push(['cp (baseline)', f(MIB / tCp, 0), '–', '–']);
  fs.rmSync(path.join(work, 'copy.bin'));

  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(work, 's3'), configureBuckets: [{ name: 'bench', configs: [] }] });
  const s3Port = ((await s3.run()) as { port: number }).port;
  try {
    for (const backend of ['local', 's3'] as const) {
      const { env, teardown } = await benchStack('auth,users,files');
      const port = await freePort();
      const storageEnv: Record<string, string> =
        backend === 'local'
          ? { FILES_DIR: path.join(work, 'files') }
          : { FILES_STORAGE: 's3', S3_BUCKET: 'bench', S3_ENDPOINT: `http://127.0.0.1:${s3Port}`, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' };
      const node = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,files'], {
        ...env,
        PORT: String(port),
        NODE_ID: `bench-files-${backend}`,
        // As docker-compose runs the gateway: a small young generation keeps streaming memory flat.
        NODE_OPTIONS: process.env.BENCH_FILES_NODE_OPTIONS ?? '--max-semi-space-size=2',
        FILES_MAX_BYTES: String(bytes * 2),
        FILES_QUOTA_BYTES: String(bytes * 4),
        ...storageEnv,
      });
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
        const token = (
          (await req(base, 'POST', '/api/v1/auth/register', { email: 'files-bench@example.com', password: 'load test password', displayName: 'Bench' }))
            .body as { accessToken: string }
        ).accessToken;
        const before = memOf(node.pid).rss;
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, memOf(node.pid).rss)), 50);
        let fileId = '';
        const tUp = await timeIt(
          () =>
            new Promise<void>((resolve, reject) => {
              const r = http.request(
                `${base}/api/v1/files`,
                { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': String(bytes), 'x-filename': 'bench.bin' } },
                (res) => {
                  let body = '';
                  res.on('data', (d) => (body += d));
                  res.on('end', () =>
                    res.statusCode === 201
                      ? ((fileId = (JSON.parse(body) as { id: string }).id), resolve())
                      : reject(new Error(`upload: ${res.statusCode} ${body}`)),
                  );
                },
              );
              r.on('error', reject);
              source().pipe(r);
            }),
        );
        const upGrowth = peak - before;
        peak = memOf(node.pid).rss;
        const downBefore = peak;
        const tDown = await timeIt(
          () =>
            new Promise<void>((resolve, reject) => {
              http
                .get(`${base}/api/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
                  let n = 0;
                  res.on('data', (d: Buffer) => (n += d.length));
                  res.on('end', () => (n === bytes ? resolve() : reject(new Error(`download: ${n} bytes`))));
                })
                .on('error', reject);
            }),
        );
        clearInterval(sampler);
        rows.push([`upload through the gateway → ${backend}`, f(MIB / tUp, 0), f(upGrowth, 0), f(memOf(node.pid).peak, 0)]);
        rows.push([`download through the gateway ← ${backend}`, f(MIB / tDown, 0), f(peak - downBefore, 0), f(memOf(node.pid).peak, 0)]);
      } finally {
        await teardown();
      }
    }
  } finally {
    await new Promise<void>((r) => s3.close(() => r()));
    fs.rmSync(work, { recursive: true, force: true });
  }
  const out = table(
    `(d) ${MIB} MiB through the gateway (one process: gateway, auth, users, courses, files), beside the baselines`,
    ['run', 'MiB/s', 'RSS growth MiB', 'peak RSS MiB'],
    rows,
  );
  const local = Number(rows.find((r) => String(r[0]).startsWith('upload through the gateway → local'))?.[1]);
  const verdict = `Upload to local storage through the gateway: **${f(local, 0)} MiB/s** (target ≥ 200 MB/s ≈ 191 MiB/s).`;
  console.log(verdict);
  return `${out}\n${verdict}\n`;
}
