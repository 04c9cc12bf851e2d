import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { credentialCode, credentials } from '@lms/contracts';
import { errorHeaders, toPublicError, type PublicError, type Runtime } from '@lms/runtime';
import type { z } from 'zod';
import { pathParam, type GatewayRequest } from './http.js';

/**
 * `GET /verify/{code}`: the public verification page a certificate's QR code points to. Server-rendered HTML for a
 * person with no account (the same answer as JSON is `GET /api/v1/verify/{code}`, linked from the page). No script;
 * one inline style allowed by its hash, nothing else (`default-src 'none'`). Learner names and course titles are
 * whatever people typed: every value is escaped. An unknown or malformed code is a 404 page; the code someone typed
 * is never shown back (a page on the installation's domain must not say what a stranger wrote in a link).
 */

type Verification = z.output<typeof credentials.verify.output>;
export type Lang = 'en' | 'fr';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** `en` or `fr`, whichever Accept-Language prefers (by q-value, then order); English when it names neither. */
export function pickLanguage(header: string | undefined): Lang {
  let best: { lang: Lang; q: number } | undefined;
  for (const part of (header ?? '').split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const primary = tag.trim().toLowerCase().split('-')[0];
    if (primary !== 'en' && primary !== 'fr') continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    if (!best || q > best.q) best = { lang: primary, q };
  }
  return best?.lang ?? 'en';
}

const TEXT = {
  en: {
    title: 'Certificate verification',
    valid: 'Valid',
    revoked: 'Revoked',
    expired: 'Expired',
    validText: 'This certificate is authentic and valid.',
    revokedText: 'This certificate was revoked by its issuer: it is no longer valid.',
    expiredText: 'This certificate is authentic but has expired.',
    learner: 'Awarded to',
    course: 'Course',
    issued: 'Issued',
    validUntil: 'Valid until',
    issuer: 'Issuer',
    code: 'Code',
    reason: 'Reason',
    json: 'This verification as JSON',
    credential: 'The signed credential (Open Badges 3.0, for digital wallets)',
    notFound: 'Certificate not found',
    notFoundText: 'No valid certificate has this code. Check the code printed on the certificate.',
    unavailable: 'Verification unavailable',
    unavailableText: 'The certificate cannot be checked right now. Please try again later.',
  },
  fr: {
    title: 'Vérification de certificat',
    valid: 'Valide',
    revoked: 'Révoqué',
    expired: 'Expiré',
    validText: 'Ce certificat est authentique et valide.',
    revokedText: 'Ce certificat a été révoqué par son émetteur : il n’est plus valide.',
    expiredText: 'Ce certificat est authentique mais il a expiré.',
    learner: 'Décerné à',
    course: 'Cours',
    issued: 'Délivré le',
    validUntil: 'Valide jusqu’au',
    issuer: 'Émetteur',
    code: 'Code',
    reason: 'Motif',
    json: 'Cette vérification en JSON',
    credential: 'L’attestation signée (Open Badges 3.0, pour les portefeuilles numériques)',
    notFound: 'Certificat introuvable',
    notFoundText: 'Aucun certificat valide ne porte ce code. Vérifiez le code imprimé sur le certificat.',
    unavailable: 'Vérification indisponible',
    unavailableText: 'Le certificat ne peut pas être vérifié pour le moment. Réessayez plus tard.',
  },
} satisfies Record<Lang, Record<string, string>>;

/** The page's only style: allowed by its hash in the CSP, so no `'unsafe-inline'`. */
const STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a33;line-height:1.5}',
  'h1{font-size:1.4rem}',
  '.status{font-size:1.3rem;font-weight:bold;padding:.6rem 1rem;border-radius:.4rem;border:2px solid}',
  '.valid{color:#135c2a;background:#e6f4ea}',
  '.revoked{color:#8a1c1c;background:#fbe9e9}',
  '.expired{color:#6b4a00;background:#fdf3dc}',
  'dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}',
  'dt{font-weight:bold}',
  'dd{margin:0;overflow-wrap:anywhere}',
  'footer{margin-top:2rem;font-size:.9rem}',
].join('');
const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

/** The page's Content-Security-Policy: nothing but its own inline style; no script, no image, no form, no frame. */
export const VERIFY_PAGE_CSP = `default-src 'none'; style-src '${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function page(lang: Lang, title: string, body: string, alternate?: string): string {
  return (
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">' +
    `<title>${escapeHtml(title)}</title>` +
    (alternate ? `<link rel="alternate" type="application/json" href="${escapeHtml(alternate)}">` : '') +
    `<style>${STYLE}</style></head><body>${body}</body></html>`
  );
}

function dateOf(iso: string, lang: Lang): string {
  const shown = new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(iso));
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(shown)}</time>`;
}

/** The page of a certificate that exists and verifies (valid, revoked or expired). Links are relative: a path prefix keeps working. */
export function verificationPage(v: Verification & { status: 'valid' | 'revoked' | 'expired' }, lang: Lang): string {
  const t = TEXT[lang];
  const json = `../api/v1/verify/${encodeURIComponent(v.code)}`;
  const rows: Array<[string, string]> = [];
  if (v.learnerName !== null) rows.push([t.learner, escapeHtml(v.learnerName)]);
  if (v.course !== null) rows.push([t.course, escapeHtml(v.course)]);
  if (v.issuedAt !== null) rows.push([t.issued, dateOf(v.issuedAt, lang)]);
  if (v.validUntil !== null) rows.push([t.validUntil, dateOf(v.validUntil, lang)]);
  if (v.issuer !== null) rows.push([t.issuer, escapeHtml(v.issuer)]);
  rows.push([t.code, `<code>${escapeHtml(v.code)}</code>`]);
  if (v.status === 'revoked' && v.revocationReason !== null) rows.push([t.reason, escapeHtml(v.revocationReason)]);
  const text = { valid: t.validText, revoked: t.revokedText, expired: t.expiredText }[v.status];
  const links = [`<li><a href="${escapeHtml(json)}">${escapeHtml(t.json)}</a></li>`];
  if (v.credentialId !== null && v.status !== 'revoked') {
    links.push(`<li><a href="../api/v1/credentials/${escapeHtml(encodeURIComponent(v.credentialId))}/credential">${escapeHtml(t.credential)}</a></li>`);
  }
  return page(
    lang,
    `${t.title}: ${t[v.status]}`,
    `<main><h1>${escapeHtml(t.title)}</h1>` +
      `<p class="status ${v.status}" id="status" data-status="${v.status}">${escapeHtml(t[v.status])}</p><p>${escapeHtml(text)}</p>` +
      `<dl>${rows.map(([k, val]) => `<dt>${escapeHtml(k)}</dt><dd>${val}</dd>`).join('')}</dl></main>` +
      `<footer><ul>${links.join('')}</ul></footer>`,
    json,
  );
}

/** A page saying the certificate could not be found (404) or checked (an outage: 503). */
export function problemPage(kind: 'notFound' | 'unavailable', lang: Lang): string {
  const t = TEXT[lang];
  const [title, text] = kind === 'notFound' ? [t.notFound, t.notFoundText] : [t.unavailable, t.unavailableText];
  return page(lang, title, `<main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main>`);
}

function sendPage(res: ServerResponse, status: number, html: string, lang: Lang, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Content-Security-Policy': VERIFY_PAGE_CSP,
    'Content-Language': lang,
    Vary: 'Accept-Language',
    // A revocation must show at once; and the page names a person: not for search engines.
    'Cache-Control': 'no-cache',
    'X-Robots-Tag': 'noindex',
    ...headers,
  });
  res.end(html);
}

/** An error before or instead of the verification (a rate limit, an outage), as a page: 404 for a client's mistake, else its status. */
export function sendPageError(req: GatewayRequest, res: ServerResponse, e: PublicError, headers: Record<string, string> = {}): void {
  const lang = pickLanguage(typeof req.headers['accept-language'] === 'string' ? req.headers['accept-language'] : undefined);
  if (e.status < 500 && e.status !== 429) return sendPage(res, 404, problemPage('notFound', lang), lang, headers);
  sendPage(res, e.status, problemPage('unavailable', lang), lang, { ...errorHeaders(e), ...headers });
}

/** The route: `GET /verify/:code`. */
export function verifyPageAliases(runtime: Runtime) {
  const { broker } = runtime;
  const log = runtime.logger('gateway');
  return {
    async 'GET /verify/:code'(req: GatewayRequest, res: ServerResponse) {
      const lang = pickLanguage(typeof req.headers['accept-language'] === 'string' ? req.headers['accept-language'] : undefined);
      const code = credentialCode.safeParse(pathParam(req, 'code'));
      if (!code.success) return sendPage(res, 404, problemPage('notFound', lang), lang);
      try {
        const v = credentials.verify.output.parse(
          await broker.call(credentials.verify.action, { code: code.data }, { meta: { edge: true, requestId: req.$requestId } }),
        );
        if (v.status === 'unknown') return sendPage(res, 404, problemPage('notFound', lang), lang);
        sendPage(res, 200, verificationPage({ ...v, status: v.status }, lang), lang);
      } catch (err) {
        const pub = toPublicError(err);
        if (pub.status >= 500) log.warn({ requestId: req.$requestId, err: String(err) }, 'verification page failed');
        sendPageError(req, res, pub);
      }
    },
  };
}
