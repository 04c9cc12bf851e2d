import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Rendered } from './templates.js';

/** Sends one rendered message; answers the provider's message id. */
export interface Mailer {
  send(to: string, message: Rendered): Promise<string>;
  close(): void;
}

/**
 * SMTP when SMTP_URL is set (smtp:// or smtps://, credentials in the URL); otherwise, for embedded
 * installs without a mail server, each message is written as an .eml file under `<data dir>/mail`.
 */
export function createMailer(opts: { smtpUrl?: string; from: string; dataDir: string }): Mailer {
  if (opts.smtpUrl) {
    // One kept-open connection (a pool) rather than a connection per message: ~100 ms less per mail.
    const url = new URL(opts.smtpUrl);
    if (!url.searchParams.has('pool')) url.searchParams.set('pool', 'true');
    const transport: Transporter = nodemailer.createTransport(url.toString());
    // Our own TCP socket, with Nagle off: nodemailer writes a message's end in a small second write, which
    // otherwise waits for the server's delayed ACK (~40 ms a mail on a local relay). TLS (smtps, STARTTLS)
    // is still nodemailer's, over this socket.
    const smtp = transport.transporter;
    if (smtp instanceof SMTPPool || smtp instanceof SMTPTransport) {
      smtp.getSocket = (o: SMTPPool.Options, cb: (err: Error | null, socketOptions: { connection: net.Socket }) => void) => {
        // nodemailer's own defaults when the URL names no host or port.
        const socket = net.connect({ host: o.host ?? 'localhost', port: Number(o.port) || (o.secure ? 465 : 587) });
        socket.setNoDelay(true);
        // A failed connection goes through nodemailer's own error path (SMTPConnection's socket 'error'): handing
        // the error to cb instead leaves the pool resource busy for ever, and after `maxConnections` (5) refused
        // connections every later message waited in the pool's queue — the delivery loops hung until a restart.
        const failed = (err: Error) => {
          cb(null, { connection: socket });
          setImmediate(() => socket.emit('error', err));
        };
        socket.once('error', failed);
        socket.once('connect', () => {
          socket.removeListener('error', failed);
          cb(null, { connection: socket });
        });
      };
    }
    return {
      async send(to, m) {
        const info = (await transport.sendMail({ from: opts.from, to, subject: m.subject, text: m.text, html: m.html, headers: m.headers })) as {
          messageId?: string;
        };
        return String(info.messageId);
      },
      close: () => transport.close(),
    };
  }
  const dir = path.join(opts.dataDir, 'mail');
  // An in-memory install (tests, demos) keeps no files: the message is rendered and dropped.
  const inMemory = opts.dataDir.startsWith('memory:');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(to, m) {
      const info = await transport.sendMail({ from: opts.from, to, subject: m.subject, text: m.text, html: m.html, headers: m.headers });
      if (inMemory) return String(info.messageId);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(info.messageId).replace(/[^\w.-]/g, '')}.eml`);
      await fs.writeFile(file, info.message as Buffer, { mode: 0o600 });
      return String(info.messageId);
    },
    close: () => transport.close(),
  };
}
