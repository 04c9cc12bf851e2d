/**
 * The SMTP mailer keeps working after refused connections: a pool resource whose connection failed must leave
 * the pool, or after `maxConnections` (5) refusals every later message waits in nodemailer's queue for ever —
 * which hung every delivery loop of a node whose mail server was down for a few seconds.
 */
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createMailer } from '../src/mailer.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

const message = { subject: 'Hello', text: 'Body', html: '<p>Body</p>' };
let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('SMTP mailer', () => {
  it('sends once the server is back, after more refused connections than the pool has', async () => {
    const port = await freePort();
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'LMS <no-reply@localhost>', dataDir: 'memory://' });
    cleanup.push(() => mailer.close());
    // Nothing listens: each send is refused, quickly and with the connection's error.
    for (let i = 0; i < 8; i++) {
      await expect(mailer.send(`down${i}@mail.test`, message)).rejects.toThrow(/ECONNREFUSED/);
    }
    const received: string[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        stream.resume();
        stream.on('end', () => {
          received.push(...session.envelope.rcptTo.map((r) => r.address));
          done();
        });
      },
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const sent = await Promise.race([
      mailer.send('back@mail.test', message),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('the send never finished')), 5_000)),
    ]);
    expect(sent).toBeTruthy();
    expect(received).toEqual(['back@mail.test']);
  });
});
