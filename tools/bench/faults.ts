/**
 * (g) Faults: the mesh as production runs it — every service in its own OS process (a second courses and a second
 * enrollments node), two gateways behind HAProxy, a PostgreSQL server and a NATS server of the bench's own — under
 * learner load, with one fault per scenario injected mid-run. Per scenario it prints the requests, what clients
 * saw (errors by status, 503s without Retry-After), the lost and duplicated effects counted from the database and
 * the streams (faults-count.ts), the processes that exited by themselves, and how long after the fault ended
 * requests were failing or slow. A fresh stack per scenario, so that no scenario inherits another's damage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateAll, openDatabase } from '@lms/runtime';
import { debBinary } from '../debs.mjs';
import { SERVICES } from '../services.ts';
import { lmsProcess, privatePostgres, type LmsProcess, type PrivatePostgres } from '../test/procs.ts';
import { defined, freePort, uniqueName, waitFor } from '../test/support.ts';
import { args, f, root, table } from './common.ts';
import { backlog, countEffects, type Effects } from './faults-count.ts';
import { runLearners, type Course, type Learner, type LoadRecord, type Sample } from './faults-load.ts';
import { percentile } from './load.ts';

export const SCENARIOS = {
  'kill-nodes': '`kill -9` one courses and one enrollments node (a second of each running)',
  'nats-restart': '`kill -9` NATS, restarted after 3 s',
  'pg-terminate': 'PostgreSQL backends terminated',
  'pg-stop': 'PostgreSQL stopped for 3.3 s',
  'rolling-restart': 'rolling SIGTERM restart of every process, gateways included',
} as const;
type Scenario = keyof typeof SCENARIOS;

/** One LMS node of the stack: what it runs, how, and whether the bench meant it to end. */
interface Node {
  name: string;
  services: string;
  env: Record<string, string>;
  proc: LmsProcess;
  /** Set before the bench kills or stops it; an exit without it is a process that died by itself. */
  ending: boolean;
}

interface NatsServer {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** A NATS server with JetStream of the bench's own, on a free port, its store in a temporary directory that survives a restart. */
async function natsServer(dir: string): Promise<NatsServer> {
  const { path: bin, env } = debBinary('nats-server');
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const url = `nats://127.0.0.1:${port}`;
  const server: NatsServer = {
    url,
    async start() {
      proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', path.join(dir, 'nats')], { env: { ...process.env, ...env }, stdio: 'ignore' });
      await waitFor(
        async () => {
          const net = await import('node:net');
          return new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.end();
              resolve(true);
            });
            s.on('error', () => resolve(false));
          });
        },
        10_000,
        20,
      );
    },
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      await new Promise((resolve) => p.once('exit', resolve).kill('SIGKILL'));
    },
  };
  await server.start().catch(async (err: unknown) => {
    await server.kill();
    throw err;
  });
  return server;
}

/**
 * HAProxy's configuration for the bench: production's infra/haproxy/haproxy.cfg (its checks, retries and timeouts)
 * with this machine's addresses — the Docker resolver and server template give way to one `server` line per gateway —,
 * or, where that file is not there, the same settings written here. A stats listener tells when a gateway is in rotation.
 */
function haproxyConfig(port: number, statsPort: number, gatewayPorts: number[]): string {
  const servers = gatewayPorts.map((p, i) => `    server gateway-${i + 1} 127.0.0.1:${p}`).join('\n');
  const stats = `\nlisten stats\n    bind 127.0.0.1:${statsPort}\n    stats enable\n    stats uri /stats\n`;
  const file = path.join(root, 'infra/haproxy/haproxy.cfg');
  if (fs.existsSync(file)) {
    const adapted = fs
      .readFileSync(file, 'utf8')
      .replace(/^resolvers [\s\S]*?(?=^\S)/m, '')
      .replace(/^(\s*)bind \S+/m, `$1bind 127.0.0.1:${port}`)
      .replace(/^\s*server-template .*$/m, servers)
      .replace(/^\s*log .*$/gm, '');
    if (adapted.includes(`127.0.0.1:${port}`) && adapted.includes(servers) && !/resolvers|server-template/.test(adapted.replace(/^\s*#.*$/gm, '')))
      return adapted + stats;
  }
  return `global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 65s
    timeout server 65s
    timeout http-keep-alive 10s
    # Only a request that got no answer is sent again (an answered write is never repeated).
    retries 3
    retry-on conn-failure empty-response
    option redispatch 1
frontend api
    bind 127.0.0.1:${port}
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server check inter 1s fastinter 250ms downinter 1s fall 2 rise 2
${servers}
${stats}`;
}

interface Balancer {
  port: number;
  proc: ChildProcess;
  /** Whether HAProxy sends requests to this gateway now (its check passed `rise` times). */
  inRotation(gateway: string): Promise<boolean>;
}

async function haproxy(dir: string, gatewayPorts: number[]): Promise<Balancer> {
  const { path: bin, env } = debBinary('haproxy');
  const [port, statsPort] = [await freePort(), await freePort()];
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig(port, statsPort, gatewayPorts));
  const proc = spawn(bin, ['-db', '-f', cfg], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const inRotation = async (gateway: string) => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    // pxname,svname,…,status (the 18th column)
    return csv.split('\n').some((l) => {
      const c = l.split(',');
      return c[0] === 'gateways' && c[1] === gateway && c[17] === 'UP';
    });
  };
  return { port, proc, inRotation };
}

interface Stack {
  pg: PrivatePostgres;
  nats: NatsServer;
  /** The nodes running now (a killed or stopped one leaves the list). */
  nodes: Node[];
  /** Every node started, for reading their logs at the end. */
  all: Node[];
  base: string;
  ns: string;
  /** Processes that ended without the bench ending them: name and exit code or signal. */
  exits: string[];
  /** What the fault did, for the report (e.g. whether the killed nodes were working). */
  notes: string[];
  /** HAProxy, when there are several gateways. */
  lb?: Balancer;
  stop(): Promise<void>;
}

async function startStack(gateways: number): Promise<Stack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-faults-'));
  const pg = await privatePostgres();
  let nats: NatsServer;
  try {
    nats = await natsServer(dir);
    const db = await openDatabase({ databaseUrl: pg.url, dataDir: '' });
    await migrateAll(db, Object.values(SERVICES));
    await db.close();
  } catch (err) {
    pg.remove();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ns = uniqueName('faults');
  const common: Record<string, string> = {
    DATABASE_URL: pg.url,
    NATS_URL: nats.url,
    LMS_NAMESPACE: ns,
    LMS_DATA_DIR: dir,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    // Every learner comes from 127.0.0.1 (through HAProxy): the per-IP limits would measure themselves.
    RATE_LIMIT_PER_MINUTE: '100000000',
    RATE_LIMIT_AUTH_PER_MINUTE: '100000000',
    REDIS_URL: '',
  };
  const gatewayPorts = await Promise.all(Array.from({ length: gateways }, () => freePort()));
  const plan: Array<Omit<Node, 'proc' | 'ending'>> = [
    ...['auth', 'users', 'courses', 'courses', 'enrollments', 'enrollments', 'files', 'analytics', 'audit', 'notifications'].map((s, i, all) => {
      const name = all.indexOf(s) === i && all.lastIndexOf(s) === i ? s : `${s}-${all.slice(0, i + 1).filter((x) => x === s).length}`;
      return { name, services: s, env: { ...common, NODE_ID: `${ns}-${name}` } };
    }),
    ...gatewayPorts.map((p, i) => ({ name: `gateway-${i + 1}`, services: 'gateway', env: { ...common, NODE_ID: `${ns}-gateway-${i + 1}`, PORT: String(p) } })),
  ];
  let lb: Balancer | undefined;
  const stack: Stack = {
    pg,
    nats,
    nodes: [],
    all: [],
    base: '',
    ns,
    exits: [],
    notes: [],
    async stop() {
      for (const n of stack.nodes) n.ending = true;
      await Promise.all(stack.nodes.map((n) => n.proc.kill('SIGKILL')));
      lb?.proc.kill('SIGKILL');
      await nats.kill();
      pg.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Two at a time: twelve processes compiling TypeScript at once on a small machine would time out.
    for (let i = 0; i < plan.length; i += 2) await Promise.all(plan.slice(i, i + 2).map((p) => launch(stack, p)));
    for (const p of gatewayPorts) await waitFor(async () => (await fetch(`http://127.0.0.1:${p}/health/ready`)).status === 200, 60_000, 200);
    lb = gateways > 1 ? await haproxy(dir, gatewayPorts) : undefined;
    stack.lb = lb;
    if (lb) for (let i = 1; i <= gateways; i++) await waitFor(() => defined(lb).inRotation(`gateway-${i}`), 30_000, 200);
    stack.base = `http://127.0.0.1:${lb ? lb.port : (gatewayPorts[0] ?? 0)}`;
    await waitFor(async () => (await fetch(`${stack.base}/health/ready`)).status === 200, 60_000, 200);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/** Starts a node, adds it to the stack and watches for it ending by itself. */
async function launch(stack: Stack, spec: Omit<Node, 'proc' | 'ending'>): Promise<Node> {
  const proc = await lmsProcess(spec.services, spec.env, 120_000);
  const node: Node = { ...spec, proc, ending: false };
  stack.nodes.push(node);
  stack.all.push(node);
  void proc.exited.then((code) => {
    if (!node.ending) stack.exits.push(`${node.name} (${code}): ${lastError(proc.output())}`);
  });
  return node;
}

/** SIGTERM, as an orchestrator stops a node, and the bench's note when it does not end well. */
async function terminate(stack: Stack, n: Node): Promise<void> {
  n.ending = true;
  const code = await Promise.race([n.proc.kill('SIGTERM'), new Promise((r) => setTimeout(r, 30_000, 'timeout'))]);
  if (code === 'timeout') {
    stack.exits.push(`${n.name} did not stop within 30 s of SIGTERM`);
    await n.proc.kill('SIGKILL');
  } else if (code !== 0) stack.exits.push(`${n.name} exited ${String(code)} on SIGTERM`);
  stack.nodes = stack.nodes.filter((x) => x !== n);
}

/**
 * Errors that reached the process's last-resort handlers (runtime/guard.ts logs them and the process goes on):
 * what would have ended a process without that guard, e.g. a database client's unhandled 'error' event.
 */
function uncaught(nodes: Node[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    for (const line of n.proc.output().split('\n')) {
      if (!line.includes('the process goes on serving')) continue;
      try {
        const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        out.push(`${n.name}: ${j.msg ?? ''}: ${(j.err?.message ?? '').slice(0, 160)}`);
      } catch {
        out.push(`${n.name}: ${line.slice(0, 200)}`);
      }
    }
  }
  return out;
}

/** The last error a process logged, for the report (JSON logs: its msg and error message). */
function lastError(output: string): string {
  const lines = output.trim().split('\n').reverse();
  const line = lines.find((l) => /"level":(50|60)|error|Error/.test(l)) ?? lines[0] ?? '';
  try {
    const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return `${j.msg ?? ''}${j.err?.message ? `: ${j.err.message}` : ''}`.slice(0, 200);
  } catch {
    return line.slice(0, 200);
  }
}

/** The catalogue and the learners of a run: courses published with a seat limit (so seats are counted), learners registered. */
async function setUp(base: string, nLearners: number, nCourses: number): Promise<{ learners: Learner[]; courses: Course[] }> {
  // Setting up is not measured: a gateway that is still joining (a 5xx, HAProxy's own page) is asked again.
  const call = async (method: string, url: string, body: unknown, token?: string) =>
    waitFor(
      async () => {
        const res = await fetch(`${base}/api/v1${url}`, {
          method,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        if (res.status >= 500) return undefined;
        if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
        return JSON.parse(text) as Record<string, unknown>;
      },
      30_000,
      200,
    );
  const password = 'fault bench password';
  const admin = (await call('POST', '/auth/register', { email: 'faults-admin@example.com', password, displayName: 'Admin' })) as { accessToken: string };
  const courses: Course[] = [];
  for (let c = 0; c < nCourses; c++) {
    const course = (await call('POST', '/courses', { title: `Fault course ${c + 1}`, category: 'faults', capacity: 100_000 }, admin.accessToken)) as {
      id: string;
    };
    const lessonIds: string[] = [];
    for (let m = 0; m < 2; m++) {
      const mod = (await call('POST', `/courses/${course.id}/modules`, { title: `Module ${m + 1}` }, admin.accessToken)) as { id: string };
      for (let l = 0; l < 3; l++) {
        const lesson = (await call(
          'POST',
          `/modules/${mod.id}/lessons`,
          { title: `Lesson ${m + 1}.${l + 1}`, content: { type: 'markdown', body: `Lesson ${l + 1} of module ${m + 1}.` } },
          admin.accessToken,
        )) as { id: string };
        lessonIds.push(lesson.id);
      }
    }
    await call('POST', `/courses/${course.id}/publish`, {}, admin.accessToken);
    courses.push({ id: course.id, lessonIds });
  }
  const learners: Learner[] = [];
  for (let i = 0; i < nLearners; i++) {
    const email = `faults-learner-${i}@example.com`;
    const r = (await call('POST', '/auth/register', { email, password, displayName: `Learner ${i}` })) as { user: { id: string } };
    learners.push({ id: r.user.id, email, password });
  }
  return { learners, courses };
}

/** CPU ticks (user + system, 1/100 s) a process has used, from /proc. */
function cpuTicks(pid: number): number {
  const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
}

/** SIGKILLs the process the moment its CPU time moves (it is working on something); true if it did within 3 s. */
async function killWhileBusy(pid: number | undefined): Promise<boolean> {
  if (pid === undefined) return false;
  const until = Date.now() + 3_000;
  let last = cpuTicks(pid);
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 2));
    const now = cpuTicks(pid);
    if (now > last) {
      process.kill(pid, 'SIGKILL');
      return true;
    }
    last = now;
  }
  return false;
}

/** Injects the scenario's fault; resolves when the fault is over (the server back, the last process restarted). */
async function inject(scenario: Scenario, stack: Stack): Promise<void> {
  const node = (name: string) => {
    const n = stack.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  switch (scenario) {
    case 'kill-nodes': {
      const victims = [node('courses-1'), node('enrollments-1')];
      for (const v of victims) v.ending = true;
      // A node dies with whatever it holds; one that held nothing at that instant costs nothing (NATS stops sending a
      // dead node new calls at once). Each victim is killed as it works (its CPU time moving), so that its calls in
      // flight are part of the fault rather than left to chance; at most 3 s of waiting for that.
      const busy = await Promise.all(victims.map(async (v) => ((await killWhileBusy(v.proc.proc.pid)) ? 'busy' : 'idle')));
      stack.notes.push(`victims killed while ${busy.join(' and ')}`);
      await Promise.all(victims.map((v) => v.proc.kill('SIGKILL')));
      // Gone for good: the second of each carries on alone.
      stack.nodes = stack.nodes.filter((n) => !victims.includes(n));
      return;
    }
    case 'nats-restart':
      await stack.nats.kill();
      await new Promise((r) => setTimeout(r, 3_000));
      await stack.nats.start();
      return;
    case 'pg-terminate':
      stack.pg.terminateBackends();
      return;
    case 'pg-stop':
      stack.pg.stop('fast');
      await new Promise((r) => setTimeout(r, 3_300));
      stack.pg.start();
      return;
    case 'rolling-restart':
      // One process at a time, as an orchestrator rolls a deployment. A node with a twin (a gateway, the second
      // courses and enrollments nodes) is stopped first and started again in place: its twin carries the traffic, and
      // its calls in flight must end well. A node that is the only one of its services is replaced the way
      // Kubernetes' default surge does it: the new one first, then SIGTERM to the old one once the new one has joined.
      for (const old of [...stack.nodes]) {
        const lb = stack.lb;
        // A gateway keeps its port, so it cannot start beside itself: it restarts in place even when it is alone.
        const inPlace = old.services === 'gateway' || stack.nodes.some((n) => n !== old && n.services === old.services);
        if (inPlace) {
          await terminate(stack, old);
          const fresh = await launch(stack, { name: old.name, services: old.services, env: old.env });
          if (fresh.services === 'gateway' && lb) await waitFor(() => lb.inRotation(fresh.name), 60_000, 100);
          else await joined();
        } else {
          await launch(stack, { name: old.name, services: old.services, env: { ...old.env, NODE_ID: `${old.env.NODE_ID ?? old.name}-r` } });
          await joined();
          await terminate(stack, old);
        }
      }
      return;
  }

  /**
   * A node announces itself to the mesh as it starts (Moleculer's INFO over NATS): the gateways ready again, and a
   * second more for every node to have heard it, as an orchestrator's minimum ready time would.
   */
  async function joined() {
    await waitFor(async () => (await fetch(`${stack.base}/health/ready`).catch(() => undefined))?.status === 200, 60_000, 100);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

interface Outcome {
  scenario: Scenario;
  load: LoadRecord;
  effects: Effects;
  exits: string[];
  /** Uncaught exceptions and unhandled rejections the processes logged and survived. */
  uncaught: string[];
  notes: string[];
  faultStart: number;
  faultEnd: number;
  /** Time the load ran after the fault ended, to tell "recovered at once" from "never recovered". */
  tail: number;
  drained: boolean;
}

async function runScenario(scenario: Scenario): Promise<Outcome> {
  const requests = Number(args.requests);
  const gateways = Number(args.gateways);
  console.log(`\n### ${scenario}: starting ${10 + gateways} LMS processes, PostgreSQL and NATS…`);
  const stack = await startStack(gateways);
  try {
    const { learners, courses } = await setUp(stack.base, 48, 8);
    let faultStart = Infinity;
    let faultEnd = Infinity;
    let fault: Promise<void> | undefined;
    const settle = Number(args.settle) * 1000;
    const started = performance.now();
    const load = await runLearners({
      base: stack.base,
      learners,
      courses,
      rate: Number(args.rate),
      users: 32,
      done: (issued, now) => {
        if (!fault && issued >= requests * 0.3) {
          faultStart = now;
          console.log(`  ${f(now / 1000, 1)} s: ${SCENARIOS[scenario]}`);
          fault = inject(scenario, stack).then(() => {
            faultEnd = performance.now() - started;
            console.log(`  ${f(faultEnd / 1000, 1)} s: fault over`);
          });
        }
        // At least `requests`, and `settle` seconds after the fault ended to see the service whole again; at most a minute more.
        return (issued >= requests && now >= faultEnd + settle) || now >= faultEnd + 60_000;
      },
    });
    await fault;
    const tail = performance.now() - started - faultEnd;
    // Let the mesh finish what it was asked (outboxes, consumers, sagas) before counting.
    const drained = await waitFor(async () => (await backlog(stack.pg.url, stack.nats.url, stack.ns)) === 0, 60_000, 250).then(
      () => true,
      () => false,
    );
    const effects = await countEffects(stack.pg.url, stack.nats.url, stack.ns, load);
    return { scenario, load, effects, exits: [...stack.exits], uncaught: uncaught(stack.all), notes: [...stack.notes], faultStart, faultEnd, tail, drained };
  } finally {
    await stack.stop();
  }
}

/**
 * When requests were healthy again, second by second from the fault on. Degraded: a second in which the slowest
 * tenth of the requests that ended took longer than `slow` (twice the p99 of the steady load before the fault — its
 * second half: the first requests warm the processes up —, at least a second) or fewer than a quarter as many ended
 * as before the fault (clients stuck on calls that do not answer); and every second a learner waited on a request
 * that failed or stalled (over three times `slow`: a call waiting out its timeout on a dead node). Recovery is the
 * end of the last degraded second, counted from the fault's end. By the second rather than by the request, so that
 * one slow request on a busy machine does not read as an outage, while one that waits out a timeout still does.
 */
function recovery(o: Outcome): { seconds: number; recovered: boolean; slowMs: number; degraded: number } {
  const steady = o.load.samples.filter((s) => s.start >= o.faultStart / 2 && s.end < o.faultStart);
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const slowMs = Math.max(1_000, 2 * percentile(sorted(steady.filter((s) => s.ok).map((s) => s.end - s.start)), 99));
  const steadyRate = steady.length / Math.max(1, (o.faultStart - o.faultStart / 2) / 1000);
  const first = Math.floor(o.faultStart / 1000);
  const lastSecond = Math.floor((o.faultEnd + o.tail) / 1000) - 1; // the run's last whole second
  const bySecond = new Map<number, Sample[]>();
  for (const x of o.load.samples) {
    const t = Math.floor(x.end / 1000);
    if (t >= first && t <= lastSecond) bySecond.set(t, [...(bySecond.get(t) ?? []), x]);
  }
  const marked = new Set<number>();
  for (let t = first; t <= lastSecond; t++) {
    const xs = bySecond.get(t) ?? [];
    const p90 = percentile(sorted(xs.map((x) => x.end - x.start)), 90);
    if (p90 > slowMs || xs.length < steadyRate / 4) marked.add(t);
    // A failed or stalled request degrades every second a learner waited on it, not only the one it ended in.
    for (const x of xs.filter((y) => !y.ok || y.end - y.start > 3 * slowMs)) {
      for (let u = Math.max(first, Math.floor(x.start / 1000)); u <= t; u++) marked.add(u);
    }
  }
  const degraded = [...marked].sort((a, b) => a - b);
  const lastBad = degraded.length ? ((degraded.at(-1) ?? 0) + 1) * 1000 : 0;
  // Degraded in the last two seconds of the run: it had not recovered when the load stopped.
  return {
    seconds: Math.max(0, lastBad - o.faultEnd) / 1000,
    recovered: !degraded.some((t) => t >= lastSecond - 1),
    slowMs,
    degraded: degraded.length,
  };
}

/** Second by second around the fault (console only): answers, errors and the median latency, to see the shape of a recovery. */
function timeline(o: Outcome): string {
  const from = Math.max(0, Math.floor(o.faultStart / 1000) - 3);
  const to = Math.ceil((o.faultEnd + o.tail) / 1000);
  const lines: string[] = [];
  for (let t = from; t < to; t++) {
    const inSecond = o.load.samples.filter((s) => Math.floor(s.end / 1000) === t);
    const ok = inSecond.filter((s) => s.ok);
    const p50 = percentile(
      ok.map((s) => s.end - s.start).sort((a, b) => a - b),
      50,
    );
    const mark =
      t * 1000 <= o.faultStart && o.faultStart < (t + 1) * 1000 ? ' ← fault' : t * 1000 <= o.faultEnd && o.faultEnd < (t + 1) * 1000 ? ' ← over' : '';
    lines.push(
      `    ${String(t).padStart(4)} s  ${String(ok.length).padStart(4)} ok  ${String(inSecond.length - ok.length).padStart(4)} errors  p50 ${f(p50, 0)} ms${mark}`,
    );
  }
  return lines.join('\n');
}

function countOf(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

function byStatus(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples.filter((x) => !x.ok)) {
    const k = s.status === 0 ? `no answer (${s.code ?? '?'})` : `${s.status}${s.code ? ` ${s.code}` : ''}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${n} × ${k}`)
      .join(', ') || '–'
  );
}

function rowOf(o: Outcome): (string | number)[] {
  const r = recovery(o);
  const errors = o.load.samples.filter((s) => !s.ok);
  const no503Retry = errors.filter((s) => s.status === 503 && !s.retryAfter).length;
  const latencies = o.load.samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return [
    SCENARIOS[o.scenario],
    o.load.samples.length,
    `${errors.length} (${f((errors.length / Math.max(1, o.load.samples.length)) * 100, 1)}%)`,
    byStatus(o.load.samples),
    no503Retry,
    o.effects.lost,
    o.effects.duplicated,
    o.exits.length,
    o.uncaught.length,
    r.recovered ? f(r.seconds, 1) : `not within ${f(o.tail / 1000, 0)}`,
    r.degraded,
    f(percentile(latencies, 99), 0),
    f(latencies.at(-1) ?? NaN, 0),
  ];
}

/** (g) Every scenario (or `--scenario a,b`), one table and the details under it. */
export async function faultsBench(): Promise<string> {
  const chosen = (args.scenario ? args.scenario.split(',') : Object.keys(SCENARIOS)) as Scenario[];
  for (const s of chosen) if (!(s in SCENARIOS)) throw new Error(`unknown scenario ${s}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const outcomes: Outcome[] = [];
  const failed: string[] = [];
  for (const s of chosen) {
    // A scenario that cannot run (a stack that does not start on a loaded machine) is reported, and the others still run.
    const o = await runScenario(s).catch((err: unknown) => {
      failed.push(`- **${s}** did not run: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      console.error(err);
      return undefined;
    });
    if (!o) continue;
    outcomes.push(o);
    // Each scenario's shape as soon as it is known: a later scenario that fails loses nothing.
    console.log(timeline(o));
    console.log(`  ${rowOf(o).join(' | ')}`);
  }
  const rows = outcomes.map(rowOf);
  const head = [
    'scenario',
    'requests',
    'client errors',
    'by status',
    '503 without Retry-After',
    'lost',
    'duplicated',
    'process exits',
    'uncaught errors',
    'recovery s',
    'degraded s',
    'p99 ms',
    'max ms',
  ];
  const out = [
    table(
      `(g) Faults: ${args.requests}+ learner requests per scenario at ${args.rate} req/s, fault after 30% (targets: 0 lost, 0 duplicated, 0 exits; 0 errors with a second instance or a NATS restart; only 503 + Retry-After while the database is away; recovery < 2 s)`,
      head,
      rows,
    ),
  ];
  if (failed.length) {
    out.push(failed.join('\n'));
    process.exitCode = 1;
  }
  for (const o of outcomes) {
    const r = recovery(o);
    const lines = [
      `- **${o.scenario}**: fault at ${f(o.faultStart / 1000, 1)} s, over at ${f(o.faultEnd / 1000, 1)} s; "slow" is over ${f(r.slowMs, 0)} ms; ` +
        `${o.effects.events} events, ${o.effects.pairs} consumer × event pairs checked; ${o.effects.deadLetters} dead letters; ` +
        `${o.load.enrolled.length} enrolments and ${o.load.completed.length} lesson completions answered, ${o.load.enrolledDespiteError} enrolments answered 409 for an enrolment an errored attempt made` +
        `${o.drained ? '' : '; **the mesh had not drained 60 s after the load**'}.`,
      ...o.notes.map((n) => `  - ${n}`),
      ...o.effects.details.map((d) => `  - ${d}`),
      ...o.exits.map((e) => `  - process exit: ${e}`),
      // The same error logged many times is one line with its count.
      ...[...countOf(o.uncaught)].map(([u, n]) => `  - uncaught${n > 1 ? ` (${n} ×)` : ''}: ${u}`),
    ];
    out.push(lines.join('\n'));
    console.log(lines.join('\n'));
  }
  return `${out.join('\n')}\n`;
}

const BEGIN = '<!-- faults bench: generated by `pnpm bench --only faults`, between these markers -->';
const END = '<!-- faults bench: end -->';

/**
 * The results go between markers in the "Faults" section of docs/benchmarks.md, so that the prose around them
 * (what was measured before, what changed) is kept; the section is added at the end if it is not there.
 */
export function writeFaultsSection(part: string, when: string, machine: string): void {
  const file = path.join(import.meta.dirname, '../../docs/benchmarks.md');
  const doc = fs.readFileSync(file, 'utf8');
  const command = `pnpm bench --only faults${args.scenario ? ` --scenario ${args.scenario}` : ''} --requests ${args.requests} --rate ${args.rate} --gateways ${args.gateways}`;
  const block = `${BEGIN}\nLatest \`${command}\` (${when}, ${machine}).\n\n${part}${END}`;
  const next = doc.includes(BEGIN)
    ? doc.slice(0, doc.indexOf(BEGIN)) + block + doc.slice(doc.indexOf(END) + END.length)
    : `${doc.trimEnd()}\n\n## Faults\n\n${block}\n`;
  fs.writeFileSync(file, next);
}
