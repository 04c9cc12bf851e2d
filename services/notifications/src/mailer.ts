import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
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
    const transport: Transporter = nodemailer.createTransport(opts.smtpUrl);
    return {
      async send(to, m) {
        const info = await transport.sendMail({ from: opts.from, to, subject: m.subject, text: m.text, html: m.html, headers: m.headers });
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
