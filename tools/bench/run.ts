/**
 * Benchmarks (not tests): prints tables and writes docs/benchmarks.md.
 *   (a) authenticated GET /api/v1/courses/{id}: gateway → NATS → courses → PostgreSQL, each
 *       service in its own process, beside a bare Node HTTP + pg server running the same query;
 *   (b) events: outbox → relay → JetStream → durable consumer → PostgreSQL, beside bare JetStream.
 *   (c) learning: catalogue page and learner dashboard with 1,000 courses × 50 lessons and 10,000 learners
 *       seeded, gateway → NATS → courses/enrollments → PostgreSQL, beside bare SQL behind node:http.
 *   (d) files: a 1 GiB upload and download through the gateway to local disk and to an S3-protocol server
 *       (s3rver), with the gateway's RSS growth, beside streaming the same bytes to disk and `cp`.
 *   (e) notifications: an announcement to N learners delivered over SMTP, beside nodemailer.
 *   (f) footprint: start to ready and idle RSS, embedded and a single-service mesh node, beside bare Node.
 *   (g) faults: the mesh in separate processes under learner load while nodes, NATS or PostgreSQL fail; errors clients
 *       saw, lost and duplicated effects counted from the database and the streams, process exits, recovery time.
 *       Only with --only faults (several minutes); [--scenario kill-nodes,...] [--requests 2000] [--rate 80] [--gateways 2] [--settle 8].
 *   (h) assessments (issue 14): autosave at a fixed rate, a deadline rush of submits, the server's deadline, the gradebook
 *       grid; only with --only assessments [--takers 1000] [--rush 60] [--save-rate 200] [--seconds 10].
 *   (i) search (issue 16): nDCG@10 and recall@20 of lexical, semantic and hybrid search over a judged corpus seeded through
 *       the API, beside ILIKE baselines in SQL; search and suggest latency at a fixed rate; only with --only search
 *       [--rate 100] [--seconds 10] (search.ts, search/).
 * Usage: pnpm bench [--seconds 10] [--tail 60] [--rounds 3] [--only http|events|learning|files|notifications|footprint|faults|gradebook|assessments|search] [--idle 5] [--courses 1000] [--mib 1024] [--recipients 2000] [--no-write]
 * Each round starts everything afresh; the tables show the last round, the spread table every round.
 * One file per bench beside this dispatcher; common.ts holds what they share. BENCH_COMPILED=1 runs the LMS nodes
 * from the build output (dist/cli.mjs, as production does) rather than from sources through tsx.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, f, machine as machineOf, root, SECONDS, stopAll, table, TAIL_SECONDS, type Metrics } from './common.ts';
import { assessmentsBench, writeAssessmentsSection } from './assessments.ts';
import { eventsBench } from './events.ts';
import { faultsBench, writeFaultsSection } from './faults.ts';
import { filesBench } from './files.ts';
import { footprintBench, FOOTPRINT_NOTES } from './footprint.ts';
import { gradebookBench } from './gradebook.ts';
import { httpBench } from './http.ts';
import { learningBench } from './learning.ts';
import { notificationsBench, NOTIFICATIONS_NOTES } from './notifications.ts';
import { searchBench, writeSearchDoc } from './search.ts';

async function main() {
  if (process.env.BENCH_COMPILED) {
    const { build, isFresh } = (await import(path.join(root, 'tools/build.mjs'))) as { build: () => Promise<unknown>; isFresh: () => boolean };
    if (!isFresh()) await build();
  }
  const when = new Date().toISOString();
  const loadBefore = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const rounds = Math.max(1, Number(args.rounds));
  const all: Metrics[] = [];
  let parts: string[] = [];
  const want = (k: string) => (!args.only && k !== 'files' && k !== 'faults' && k !== 'gradebook' && k !== 'assessments') || args.only === k;
  if (args.only === 'gradebook') console.log(await gradebookBench());
  if (args.only === 'assessments') {
    const load = os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ');
    const part = await assessmentsBench();
    if (!args['no-write']) {
      writeAssessmentsSection(part, when, machineOf(), load);
      console.log('\nwrote the Assessments (issue 14) section of docs/benchmarks.md');
    }
  }
  if (args.only === 'search') {
    const part = await searchBench();
    if (!args['no-write']) {
      writeSearchDoc(part, when);
      console.log('\nwrote docs/benchmarks-search.md');
    }
  }
  for (let r = 1; r <= rounds && (want('http') || want('events')); r++) {
    console.log(`\n## round ${r}/${rounds}`);
    const m: Metrics = {};
    parts = [];
    if (want('http')) parts.push(await httpBench(m));
    if (want('events')) parts.push(await eventsBench(m));
    all.push(m);
  }
  const footprintPart = args.only === 'footprint' ? await footprintBench() : '';
  if (footprintPart && !args['no-write']) {
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-footprint.md'),
      `# Footprint benchmark\n\nLatest \`pnpm bench --only footprint --rounds ${args.rounds} --idle ${args.idle}${args.before ? ` --before ${args.before}` : ''}\` (${when}, ${machineOf()}). Processes started one at a\ntime with \`node\` directly (no pnpm wrapper), NODE_ENV=production, LOG_LEVEL=warn; the mesh node uses the local\nPostgreSQL and NATS; the baseline and the runs from sources are measured in the same run.\n\n${footprintPart}\n${FOOTPRINT_NOTES}`,
    );
    console.log('\nwrote docs/benchmarks-footprint.md');
  }
  const notificationsPart = args.only === 'notifications' ? await notificationsBench() : '';
  if (notificationsPart && !args['no-write']) {
    const machine = machineOf();
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-notifications.md'),
      `# Notifications benchmark\n\nLatest \`pnpm bench --only notifications --recipients ${args.recipients}\` (${when}, ${machine}). One LMS process (gateway,\nauth, users, courses, enrollments, notifications) with PostgreSQL, NATS, the smtp-server and the bench on the same machine;\nlearners seeded straight into PostgreSQL (\`lms seed\`); the send rate is unthrottled (NOTIFY_RATE_EMAIL=1000000)${process.env.REDIS_URL ? ', its window still\ncounted in Redis for every mail (REDIS_URL set)' : ''}.\nLatency is from the announce call to each mail's arrival at the SMTP server.\n\n${notificationsPart}\n${NOTIFICATIONS_NOTES}`,
    );
    console.log('\nwrote docs/benchmarks-notifications.md');
  }
  const faultsPart = args.only === 'faults' ? await faultsBench() : '';
  if (faultsPart && !args['no-write']) {
    writeFaultsSection(faultsPart, when, machineOf());
    console.log('\nwrote the Faults section of docs/benchmarks.md');
  }
  const filesPart = args.only === 'files' ? await filesBench() : '';
  if (filesPart && !args['no-write']) {
    const machine = machineOf();
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-files.md'),
      `# Files benchmark\n\nLatest \`pnpm bench --only files\` (${when}, ${machine}). One LMS process (gateway, auth, users, courses,\nfiles) with PostgreSQL, NATS, s3rver and the load generator on the same machine; baselines in the same run.\nRSS growth is the gateway process's, sampled every 50 ms during the transfer. The process runs with
NODE_OPTIONS=--max-semi-space-size=2, as docker-compose runs the gateway (see below).\n\n${filesPart}\ns3rver is a JavaScript S3 server writing to the same disk: its numbers bound the LMS's S3 path from below.\n`,
    );
    console.log('\nwrote docs/benchmarks-files.md');
  }
  // The learning bench seeds a large catalogue first: once per run, after the rounds.
  const learning = want('learning') ? await learningBench({}) : '';
  if (learning && !args['no-write']) {
    const machine = machineOf();
    fs.writeFileSync(
      path.join(root, 'docs/benchmarks-learning.md'),
      `# Learning core benchmark\n\nLatest \`pnpm bench --only learning\` (${when}, ${machine}; ${SECONDS} s per run). The gateway (with auth and users),\ncourses and enrollments each run in their own process, with PostgreSQL 15, NATS and the load generator on the same\nmachine; the baseline is the same SQL behind a bare node:http server, measured in the same run.\n\n${learning}\nThe dashboard reads the caller's enrollments, their progress rows, and each course's published outline (cached\nfor 5 s in the enrollments service); the catalogue reads published snapshots joined to their courses.\n`,
    );
    console.log('\nwrote docs/benchmarks-learning.md');
  }
  if (!all.length) return;
  const spread = table(
    `Every round (targets: LMS/bare ≥ 55%, p99 at 500 req/s < 8 ms and p99.9 < 20 ms, ≥ 8,000 events/s and ≥ 60% of the like-for-like baseline, p99 at 5,000 events/s < 30 ms)`,
    ['round', 'LMS/bare req/s', 'p95 / p99 / p99.9 ms at 500 req/s', 'events/s', 'of like-for-like', 'p99 ms at 5,000 events/s'],
    all.map((m, i) => [
      i + 1,
      m.ratio ? `${f(m.ratio * 100, 0)}%` : '–',
      `${f(m.p95at500 ?? NaN, 2)} / ${f(m.p99at500 ?? NaN, 2)} / ${f(m.p999at500 ?? NaN, 2)}`,
      f(m.eventsPerSec ?? NaN, 0),
      m.eventsRatio ? `${f(m.eventsRatio * 100, 0)}%` : '–',
      f(m.p99at5000 ?? NaN, 1),
    ]),
  );
  const machine = machineOf();
  if (!args['no-write'] && !args.only) {
    const section = `Latest \`pnpm bench --rounds ${rounds} --seconds ${SECONDS} --tail ${TAIL_SECONDS}\` (${when}, ${machine}, load average before the run ${loadBefore}). Each
service runs in its own process on one machine with the load generator, PostgreSQL 15 and NATS; the baselines run in
the same round, on the same machine. The machine has 2 cores, so results move from round to round: the spread table
shows every round, the detailed tables the last one.

${spread}
${parts.join('\n')}
How to read it: *capacity* is a closed loop (BENCH_CONNECTIONS, default 64, clients back to back); *latency
under load* is an open loop that starts 500 requests a second on schedule for ${TAIL_SECONDS} s and counts latency from
when each was due; the worst second is the one-second window (by due time) with the highest p99, and every process
logs its GC and event-loop delay each second during the run (tools/bench/perf-probe.mjs) so a slow second can be put
beside what the processes did. Event latency is from the producer's commit to the consumer's commit. The like-for-like
event baseline writes the same rows in the same 10-event transactions with one INSERT, publishes them to JetStream after
the commit and applies them in a consumer process (inbox + projection, one transaction per batch), with no runtime.
`;
    writeCoreSection(section);
    console.log('\nwrote the core section of docs/benchmarks.md');
  }
}

const CORE_BEGIN = '<!-- bench:core:begin -->';
const CORE_END = '<!-- bench:core:end -->';
/** The default run's results go between markers in docs/benchmarks.md; the other sections (written by hand or by other benches) stay. */
function writeCoreSection(section: string): void {
  const file = path.join(root, 'docs/benchmarks.md');
  const doc = fs.readFileSync(file, 'utf8');
  const block = `${CORE_BEGIN}\n${section}${CORE_END}`;
  const next = doc.includes(CORE_BEGIN)
    ? doc.slice(0, doc.indexOf(CORE_BEGIN)) + block + doc.slice(doc.indexOf(CORE_END) + CORE_END.length)
    : doc.replace(/^# Benchmarks\n/, `# Benchmarks\n\n## Core: REST and events (\`pnpm bench\`)\n\n${block}\n`);
  fs.writeFileSync(file, next);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    process.exit();
  });
