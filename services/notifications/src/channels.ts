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

/** An address as bytes: 4 for IPv4, 16 for IPv6; undefined when it is not an IP address literal. */
function addressBytes(ip: string): number[] | undefined {
  const kind = net.isIP(ip);
  if (kind === 4) return ip.split('.').map(Number);
  if (kind !== 6) return undefined;
  // A trailing dotted quad (`::ffff:127.0.0.1`) is the last two groups.
  const text = ip
    .toLowerCase()
    .replace(
      /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
      (_m, a: string, b: string, c: string, d: string) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
    );
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  return bytes.length === 16 && bytes.every((x) => Number.isInteger(x) && x >= 0 && x <= 255) ? bytes : undefined;
}

/**
 * The IPv4 address an IPv6 address stands for, if any: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
 * (`::a.b.c.d`, deprecated but still routed to IPv4 by some stacks), NAT64 (`64:ff9b::/96`, RFC 6052), and
 * 6to4 (`2002:AABB:CCDD::/16`, RFC 3056). Whatever way it is spelt (hex groups, dotted tail, expanded).
 */
function embeddedIPv4(b: number[]): number[] | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12); // mapped
  if (zero(0, 12)) return b.slice(12); // compatible, and :: / ::1 (0.0.0.0/8: refused as IPv4 too)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12); // NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6); // 6to4
  return undefined;
}

function isPrivateIPv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b < 128) || // CGNAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || // IETF assignments, documentation
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224 // multicast, reserved, broadcast
  );
}

/**
 * Loopback, private, link-local, CGNAT, multicast and reserved ranges, IPv4 and IPv6, whatever the spelling:
 * an IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by that IPv4 address.
 * Anything that is not an IP address literal counts as private (fail closed).
 */
export function isPrivateAddress(ip: string): boolean {
  const bytes = addressBytes(ip.replace(/^\[|\]$/g, ''));
  if (!bytes) return true;
  if (bytes.length === 4) return isPrivateIPv4(bytes);
  const v4 = embeddedIPv4(bytes);
  if (v4) return isPrivateIPv4(v4);
  const [a, b] = bytes as [number, number];
  return (
    (a & 0xfe) === 0xfc || // fc00::/7 unique local
    (a === 0xfe && (b & 0xc0) === 0x80) || // fe80::/10 link-local
    (a === 0xfe && (b & 0xc0) === 0xc0) || // fec0::/10 site-local (deprecated)
    a === 0xff || // multicast
    (a === 0x01 && b === 0x00 && bytes.slice(2, 8).every((x) => x === 0)) || // 100::/64 discard
    (a === 0x00 && b === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b) || // 64:ff9b:1::/48 local NAT64
    (a === 0x20 && b === 0x01 && bytes[2] === 0x0d && bytes[3] === 0xb8) || // 2001:db8::/32 documentation
    (a === 0x20 && b === 0x01 && bytes[2] === 0x00 && bytes[3] === 0x00) // 2001::/32 Teredo: tunnels to any IPv4
  );
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
 * at connection time (no rebinding between check and use). `allowPrivate` (PUSH_ALLOW_PRIVATE) lifts both for a
 * push service on the local network (and tests); `caFile` (PUSH_CA_FILE) adds a CA.
 */
export function pushAgent(opts: { allowPrivate?: boolean; caFile?: string } = {}): PushAgent {
  const allowPrivate = opts.allowPrivate === true;
  const extraCa = opts.caFile ? [fs.readFileSync(opts.caFile, 'utf8')] : [];
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 16,
    ca: extraCa.length ? [...tls.rootCertificates, ...extraCa] : undefined,
    lookup: (hostname, options, cb) => {
      dns.lookup(hostname, { ...options, all: true }, (err, list) => {
        if (err) return cb(err, '', 0);
        if (!allowPrivate && list.some((a) => isPrivateAddress(a.address)))
          return cb(Object.assign(new Error(`push endpoint ${hostname} resolves to a private address`), { code: 'EPRIVATE' }), '', 0);
        if (options.all) return cb(null, list);
        const first = list[0];
        if (!first) return cb(Object.assign(new Error(`push endpoint ${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        cb(null, first.address, first.family);
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
export async function sendPush(
  target: PushTarget,
  message: ShortMessage,
  vapid: { subject: string; publicKey: string; privateKey: string },
  push: PushAgent,
): Promise<PushOutcome> {
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
    return {
      ok: false,
      gone: e.statusCode === 404 || e.statusCode === 410,
      error: e.statusCode ? `push service answered ${e.statusCode}` : String(e.message ?? e.code ?? err).slice(0, 200),
    };
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
    const body = (await res.json().catch(() => ({}))) as { id?: string | number | null };
    if (res.ok) return String(body.id ?? res.headers.get('x-message-id') ?? 'accepted');
    const msg = `SMS gateway answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentDeliveryError(msg);
    throw new Error(msg);
  }
}

/** The configured SMS provider, if any (SMS_HTTP_URL). */
export function smsProviderOf(config: { SMS_HTTP_URL?: string; SMS_HTTP_TOKEN?: string; SMS_FROM?: string }): SmsProvider | undefined {
  return config.SMS_HTTP_URL ? new HttpSmsProvider({ url: config.SMS_HTTP_URL, token: config.SMS_HTTP_TOKEN, from: config.SMS_FROM }) : undefined;
}

/** One SMS: the title and link, at most 320 characters (two segments). */
export function smsText(m: ShortMessage): string {
  const t = m.url ? `${m.title}: ${m.url}` : `${m.title}. ${m.body}`;
  return t.length > 320 ? `${t.slice(0, 317)}...` : t;
}
