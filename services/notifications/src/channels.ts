import dns from 'node:dns';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import webpush from 'web-push';

/** What a phone or browser shows: short, no HTML. */
export interface ShortMessage {
  title: string;
  body: string;
  url?: string;
}

// ------------------------------------------------------------------ web push

/** Loopback, private, link-local, CGNAT, multicast and reserved ranges (IPv4 and IPv6). */
export function isPrivateAddress(ip: string): boolean {
  const v4 = net.isIPv4(ip) ? ip : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19));
  }
  const x = ip.toLowerCase();
  return x === '::' || x === '::1' || x.startsWith('fc') || x.startsWith('fd') || x.startsWith('fe8') || x.startsWith('fe9') || x.startsWith('fea') || x.startsWith('feb') || x.startsWith('ff');
}

/** An HTTPS agent for push services, and the check an endpoint's host must pass before it is used. */
export interface PushAgent {
  agent: https.Agent;
  /** Why this endpoint's host is refused (a private address literal), or undefined. */
  refuses(endpoint: string): string | undefined;
}

/**
 * Push endpoints come from browsers, i.e. from users: hostile URLs. Requests go over HTTPS only; a host that
 * is a private address literal is refused before connecting, and a name is checked by the agent's DNS lookup
 * at connection time (no rebinding between check and use). PUSH_ALLOW_PRIVATE=1 lifts both for a push
 * service on the local network (and tests); PUSH_CA_FILE adds a CA.
 */
export function pushAgent(): PushAgent {
  const allowPrivate = process.env.PUSH_ALLOW_PRIVATE === '1';
  const extraCa = process.env.PUSH_CA_FILE ? [fs.readFileSync(process.env.PUSH_CA_FILE, 'utf8')] : [];
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 16,
    ca: extraCa.length ? [...tls.rootCertificates, ...extraCa] : undefined,
    lookup: (hostname, options, cb) => {
      dns.lookup(hostname, { ...options, all: true }, (err, list) => {
        if (err) return cb(err, '', 0);
        if (!allowPrivate && list.some((a) => isPrivateAddress(a.address))) return cb(Object.assign(new Error(`push endpoint ${hostname} resolves to a private address`), { code: 'EPRIVATE' }), '', 0);
        if (options.all) return cb(null, list);
        cb(null, list[0]!.address, list[0]!.family);
      });
    },
  });
  return {
    agent,
    refuses(endpoint) {
      // An address literal never reaches `lookup`.
      const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
      return !allowPrivate && net.isIP(host) && isPrivateAddress(host) ? `push endpoint ${host} is a private address` : undefined;
    },
  };
}

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export type PushOutcome = { ok: true } | { ok: false; gone: boolean; error: string };

/** Sends one encrypted (RFC 8291) message with VAPID (RFC 8292) to one subscription. */
export async function sendPush(target: PushTarget, message: ShortMessage, vapid: { subject: string; publicKey: string; privateKey: string }, push: PushAgent): Promise<PushOutcome> {
  const refused = push.refuses(target.endpoint);
  if (refused) return { ok: false, gone: false, error: refused };
  try {
    await webpush.sendNotification({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, JSON.stringify(message), {
      vapidDetails: vapid,
      TTL: 24 * 3600,
      timeout: 10_000,
      agent: push.agent,
      contentEncoding: 'aes128gcm',
    });
    return { ok: true };
  } catch (err) {
    const e = err as { statusCode?: number; message?: string; code?: string };
    // 404/410: the browser dropped the subscription; it will never work again.
    return { ok: false, gone: e.statusCode === 404 || e.statusCode === 410, error: e.statusCode ? `push service answered ${e.statusCode}` : String(e.message ?? e.code ?? err).slice(0, 200) };
  }
}

export const generateVapidKeys = () => webpush.generateVAPIDKeys();

// ------------------------------------------------------------------ SMS

/** An SMS gateway. `send` answers the provider's message id; a thrown error is retried. */
export interface SmsProvider {
  readonly name: string;
  send(to: string, text: string): Promise<string>;
}

/** A provider refused the message for good (bad number, opted out): not retried. */
export class PermanentDeliveryError extends Error {}

/**
 * A generic HTTP SMS gateway: `POST SMS_HTTP_URL` with `{ from, to, text }` as JSON and
 * `Authorization: Bearer SMS_HTTP_TOKEN`; a 2xx answer with `{ id }` is success, 4xx (but 408/429) is a
 * permanent refusal, anything else is retried. Most gateways (or a small adapter) speak this shape.
 */
export class HttpSmsProvider implements SmsProvider {
  readonly name = 'http';
  constructor(private readonly opts: { url: string; token?: string; from?: string; timeoutMs?: number }) {}

  async send(to: string, text: string): Promise<string> {
    const res = await fetch(this.opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
      body: JSON.stringify({ from: this.opts.from ?? 'LMS', to, text }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      redirect: 'error',
    });
    const body = (await res.json().catch(() => ({}))) as { id?: unknown };
    if (res.ok) return String(body.id ?? res.headers.get('x-message-id') ?? 'accepted');
    const msg = `SMS gateway answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentDeliveryError(msg);
    throw new Error(msg);
  }
}

/** The configured SMS provider, if any (SMS_HTTP_URL). */
export function smsProviderFromEnv(): SmsProvider | undefined {
  return process.env.SMS_HTTP_URL ? new HttpSmsProvider({ url: process.env.SMS_HTTP_URL, token: process.env.SMS_HTTP_TOKEN, from: process.env.SMS_FROM }) : undefined;
}

/** One SMS: the title and link, at most 320 characters (two segments). */
export function smsText(m: ShortMessage): string {
  const t = m.url ? `${m.title}: ${m.url}` : `${m.title}. ${m.body}`;
  return t.length > 320 ? `${t.slice(0, 317)}...` : t;
}
