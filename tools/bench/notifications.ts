/** (e) Notifications: an announcement fanned out and delivered over SMTP, beside nodemailer alone. */
import { args, benchStack, f, freePort, memOf, start, table } from './common.ts';
import { seed } from '../seed.ts';
import { http as req, waitFor } from '../test/support.ts';
import { percentile } from './load.ts';

/**
 * (e) Notifications: an announcement to N seeded learners of one course, through fan-out, routing (one settings
 * read per learner) and SMTP delivery to a local smtp-server, unthrottled; latency is from the announce call to
 * each mail's arrival. Baselines in the same run: nodemailer sending the same number of mails to the same server,
 * one connection per mail (as the LMS does) and over a pool.
 */
export async function notificationsBench(): Promise<string> {
  const { SMTPServer } = await import('smtp-server');
  const nodemailer = (await import('nodemailer')).default;
  const N = Number(args.recipients);
  const arrivals: number[] = [];
  let counting = false;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    // No reverse DNS of the client: without a resolver it costs a timeout per connection.
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, done) {
      stream.on('data', () => {});
      stream.on('end', () => {
        if (counting) arrivals.push(performance.now());
        done();
      });
    },
  });
  const smtpPort = await freePort();
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
  const rows: (string | number)[][] = [];
  const stats = (t0: number, label: string, rss: string) => {
    const lat = arrivals.map((a) => a - t0).sort((x, y) => x - y);
    const total = (lat.at(-1) ?? NaN) / 1000;
    rows.push([label, lat.length, f(lat.length / total, 0), f(percentile(lat, 50), 0), f(percentile(lat, 95), 0), f(percentile(lat, 99), 0), rss]);
  };
  const body = { subject: 'Lab closed', text: 'No lab on Friday. See you Monday.\n'.repeat(8), html: '<p>No lab on Friday.</p>'.repeat(8) };
  try {
    for (const pool of [false, true]) {
      const transport = nodemailer.createTransport(`smtp://127.0.0.1:${smtpPort}/${pool ? '?pool=true' : ''}`);
      arrivals.length = 0;
      counting = true;
      const t0 = performance.now();
      // A connection per mail costs ~0.1 s here: a sample of 200 is enough for its rate.
      for (let i = 0; i < (pool ? N : Math.min(N, 200)); i++) await transport.sendMail({ from: 'bench@example.org', to: `l${i}@seed.test`, ...body });
      counting = false;
      transport.close();
      stats(t0, `nodemailer, one ${pool ? 'pooled connection' : 'connection per mail'} (baseline)`, '–');
    }

    // The LMS's own mailer (one kept-open connection, Nagle off), alone.
    {
      const { createMailer } = await import('../../services/notifications/src/mailer.ts');
      const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'bench@example.org', dataDir: 'memory://' });
      arrivals.length = 0;
      counting = true;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await mailer.send(`l${i}@seed.test`, body);
      counting = false;
      mailer.close();
      stats(t0, "the LMS's mailer alone, one at a time (baseline)", '–');
    }

    const { pg, env, teardown } = await benchStack('auth,users,courses,enrollments,notifications');
    try {
      const port = await freePort();
      const node = start(['tools/cli.ts', 'node', '--services', 'gateway,auth,users,courses,enrollments,notifications'], {
        ...env,
        PORT: String(port),
        NODE_ID: 'bench-notifications',
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        NOTIFY_RATE_EMAIL: '1000000',
      });
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await req(base, 'GET', '/health/ready')).status === 200 || undefined, 60_000, 250);
      const admin = (
        (await req(base, 'POST', '/api/v1/auth/register', { email: 'bench-admin@example.com', password: 'load test password', displayName: 'Admin' })).body as {
          accessToken: string;
        }
      ).accessToken;
      const { courseIds } = await seed(pg.url, { courses: 1, lessonsPerCourse: 3, learners: N, enrollmentsPerLearner: 1 });
      await new Promise((r) => setTimeout(r, 1500)); // the admin's own welcome and verification mail go first
      arrivals.length = 0;
      counting = true;
      let peak = memOf(node.pid).rss;
      const sampler = setInterval(() => (peak = Math.max(peak, memOf(node.pid).rss)), 100);
      const t0 = performance.now();
      const ann = await req(
        base,
        'POST',
        `/api/v1/courses/${courseIds[0]}/announcements`,
        { title: 'Lab closed', body: 'No lab on Friday.\nSee you Monday.' },
        admin,
      );
      if (ann.status !== 202) throw new Error(`announce: ${ann.status} ${JSON.stringify(ann.body)}`);
      const annId = (ann.body as { id: string }).id;
      let listed = NaN;
      const done = await waitFor(
        async () => {
          const p = (await req(base, 'GET', `/api/v1/courses/${courseIds[0]}/announcements/${annId}`, undefined, admin)).body as {
            status: string;
            progress: { email?: { sent: number } };
          };
          if (Number.isNaN(listed) && p.status !== 'fanning_out') listed = performance.now() - t0;
          return p.status === 'done' && p;
        },
        600_000,
        100,
      );
      clearInterval(sampler);
      counting = false;
      if (done.progress.email?.sent !== N || arrivals.length !== N) throw new Error(`sent ${done.progress.email?.sent}, received ${arrivals.length} of ${N}`);
      stats(t0, 'LMS: announce → fan-out → route → SMTP', `${f(peak, 0)} peak`);
      rows.push([`of which listing the ${N} learners (fan-out)`, N, f(N / (listed / 1000), 0), '–', '–', '–', '–']);
    } finally {
      await teardown();
    }
  } finally {
    await new Promise<void>((r) => smtp.close(() => r()));
  }
  const out = table(
    `(e) An announcement to ${N} learners, delivered to a local smtp-server (unthrottled), beside nodemailer alone`,
    ['run', 'mails', 'mails/s', 'p50 ms', 'p95 ms', 'p99 ms', 'RSS MiB'],
    rows,
  );
  return out;
}

export const NOTIFICATIONS_NOTES = `How to read it: *mails* is how many reached the SMTP server; latency is from the call that started the batch
(the announce request, or the first \`sendMail\`) to each mail's arrival, so p50 is mostly queueing behind the
mails before it. The nodemailer rows are what its defaults give against a local server: a connection per mail
(~146 ms each) or one connection with Nagle's algorithm on (~45 ms each: the message end waits for the server's
delayed ACK). The LMS's mailer keeps pooled connections on a socket with Nagle off (~1.6 ms each). The LMS row adds
the fan-out (listing learners from the enrollments service), routing (batches of 50: one settings read, one
transaction) and each delivery's claim and record transactions, with 4 loops per node; the machine's two cores
also run PostgreSQL, NATS, the SMTP server and the bench.
`;
