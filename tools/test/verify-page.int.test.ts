/**
 * The public certificate verification page (`GET /verify/{code}`, services/gateway/src/verify-page.ts) on an embedded
 * LMS, as a stranger with no account sees it: valid, revoked (the reason only when made public), expired, unknown;
 * hostile names escaped; a CSP that allows no script and only the page's own style. Then the issuer key at rest:
 * sealed in the database, still signing after a restart, and a key left in plain text is sealed in place.
 */
import { createHash, randomBytes } from 'node:crypto';
import { credentials, credentialsInternal } from '@lms/contracts';
import { gatewayPort } from '@lms/gateway';
import { dataKeyOf, isSealed, Sealer, startNode, type LmsNode } from '@lms/runtime';
import { issuerKeyAad } from '@lms/credentials';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http, tempDir } from './support.ts';

const PUBLIC_URL = 'https://verify.test';
const DAY = 86_400_000;
const ENV: Record<string, string> = {
  PUBLIC_URL,
  CREDENTIALS_VALIDITY_DAYS: '30',
  CREDENTIALS_DATA_KEY: randomBytes(32).toString('base64'),
  RATE_LIMIT_AUTH_PER_MINUTE: '1000',
};
const HOSTILE_NAME = '<script>alert("name")</script>';
const HOSTILE_TITLE = '"><img src=x onerror=alert(1)> & Co';

const data = tempDir();
let node: LmsNode;
let base: string;
let admin: string;
let learnerId: string;
let courseId: string;

async function start() {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: data.dir, port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
}
const db = () => node.runtime.db.root;

/** A certificate of a new course for the hostile-named learner (the saga's internal call, as idor.int.test.ts does). */
async function certificate(title = HOSTILE_TITLE) {
  const course = await http(base, 'POST', '/api/v1/courses', { title, category: 'x' }, admin);
  expect(course.status).toBe(201);
  courseId = course.body.id;
  return credentialsInternal.issue.output.parse(
    await node.broker.call(credentialsInternal.issue.action, { userId: learnerId, courseId, completedAt: new Date().toISOString() }),
  );
}

/** The page as a browser gets it. */
async function page(code: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/verify/${code}`, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

/** The issuer's private JWK as stored (opened with the test's CREDENTIALS_DATA_KEY). */
async function sealedPrivateJwk(): Promise<string> {
  const row = (await sql<{ private_sealed: string }>`select private_sealed from credentials.issuer_keys`.execute(db())).rows[0];
  return new Sealer(defined(dataKeyOf(ENV.CREDENTIALS_DATA_KEY))).open(defined(row?.private_sealed), issuerKeyAad('key-1'));
}

const statusOf = (html: string) => /data-status="(\w+)"/.exec(html)?.[1];

async function issuerKey() {
  const doc = (await http(base, 'GET', '/.well-known/did.json')).body as { id: string; verificationMethod: Array<{ publicKeyJwk: JWK }> };
  return { did: doc.id, jwk: defined(doc.verificationMethod[0]).publicKeyJwk, key: await importJWK(defined(doc.verificationMethod[0]).publicKeyJwk, 'EdDSA') };
}

beforeAll(async () => {
  Object.assign(process.env, ENV);
  await start();
  admin = (await http(base, 'POST', '/api/v1/auth/register', { email: 'admin@verify.test', password: 'verify page password', displayName: 'Admin' })).body
    .accessToken;
  const learner = await http(base, 'POST', '/api/v1/auth/register', {
    email: 'learner@verify.test',
    password: 'verify page password',
    displayName: HOSTILE_NAME,
  });
  expect(learner.status).toBe(201);
  learnerId = learner.body.user.id;
}, 120_000);
afterAll(async () => {
  vi.useRealTimers();
  await node?.stop();
  for (const k of Object.keys(ENV)) delete process.env[k];
  data.remove();
});

describe('GET /verify/{code}: the public verification page', () => {
  it('shows a valid certificate: name, course, dates, issuer, code, escaped; no script; a strict hash-based CSP; links to the JSON', async () => {
    const { code, credentialId } = await certificate();
    const p = await page(code);
    expect(p.status).toBe(200);
    expect(p.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(statusOf(p.html)).toBe('valid');
    // Escaped, never markup: the learner's name and the course title are what people typed.
    expect(p.html).toContain('&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;');
    expect(p.html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; Co');
    expect(p.html).not.toMatch(/<script|<img|onerror=alert\(1\)>/i);
    expect(p.html).toContain(`<code>${code}</code>`);
    expect(p.html).toContain(`href="../api/v1/verify/${code}"`);
    expect(p.html).toContain(`href="../api/v1/credentials/${credentialId}/credential"`);
    // The CSP: nothing by default, no script at all, the one inline style by its hash (no 'unsafe-inline').
    const csp = defined(p.headers.get('content-security-policy'), 'a CSP');
    expect(csp).toMatch(/^default-src 'none';/);
    expect(csp).not.toMatch(/script-src|unsafe-inline|\*/);
    const style = defined(/<style>([^<]*)<\/style>/.exec(p.html)?.[1], 'the inline style');
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(p.headers.get('x-content-type-options')).toBe('nosniff');
    expect(p.headers.get('x-robots-tag')).toBe('noindex');
    // A code in lower case is the same code.
    expect(statusOf((await page(code.toLowerCase())).html)).toBe('valid');
    // The JSON the page links to says the same, with the expiry the installation sets (CREDENTIALS_VALIDITY_DAYS=30).
    const json = await http(base, 'GET', `/api/v1/verify/${code}`);
    expect(json.body).toMatchObject({ status: 'valid', learnerName: HOSTILE_NAME, course: HOSTILE_TITLE, revocationReason: null });
    const validFor = Date.parse(json.body.validUntil) - Date.parse(json.body.issuedAt);
    expect(validFor).toBe(30 * DAY);
    const signed = await http(base, 'GET', `/api/v1/credentials/${credentialId}/credential`);
    expect(signed.body.credential.validUntil).toBe(json.body.validUntil);
  });

  it('points the learner’s verifyUrl (and so the QR code on the PDF) at the page', async () => {
    const learner = (await http(base, 'POST', '/api/v1/auth/login', { email: 'learner@verify.test', password: 'verify page password' })).body.accessToken;
    const mine = await http(base, 'GET', '/api/v1/me/credentials', undefined, learner);
    const first = defined(mine.body.items[0] as { code: string; verifyUrl: string } | undefined, 'a certificate');
    expect(first.verifyUrl).toBe(`${PUBLIC_URL}/verify/${first.code}`);
    expect((await page(first.code)).status).toBe(200);
  });

  it('shows a revoked certificate as revoked, with the reason only when the revocation made it public', async () => {
    const hidden = await certificate('Hidden reason course');
    const r = await http(base, 'POST', `/api/v1/credentials/${hidden.credentialId}/revoke`, { reason: 'Private misconduct file 42' }, admin);
    expect(r.status).toBe(200);
    const p = await page(hidden.code);
    expect([p.status, statusOf(p.html)]).toEqual([200, 'revoked']);
    expect(p.html).not.toContain('Private misconduct');
    expect((await http(base, 'GET', `/api/v1/verify/${hidden.code}`)).body).toMatchObject({ status: 'revoked', revocationReason: null });

    const shown = await certificate('Shown reason course');
    await http(base, 'POST', `/api/v1/credentials/${shown.credentialId}/revoke`, { reason: 'Issued by <b>mistake</b>', reasonPublic: true }, admin);
    const q = await page(shown.code);
    expect(statusOf(q.html)).toBe('revoked');
    expect(q.html).toContain('Issued by &lt;b&gt;mistake&lt;/b&gt;');
    expect((await http(base, 'GET', `/api/v1/verify/${shown.code}`)).body).toMatchObject({ status: 'revoked', revocationReason: 'Issued by <b>mistake</b>' });
  });

  it('shows a certificate past its validUntil as expired (page and JSON)', async () => {
    const { code } = await certificate('Expiring course');
    // 31 days on (the node runs in this process: only its clock moves).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 31 * DAY);
      const p = await page(code);
      expect([p.status, statusOf(p.html)]).toEqual([200, 'expired']);
      expect((await http(base, 'GET', `/api/v1/verify/${code}`)).body.status).toBe('expired');
    } finally {
      vi.useRealTimers();
    }
    expect(statusOf((await page(code)).html)).toBe('valid');
  });

  it('answers an unknown or malformed code with a 404 page (HTML, same CSP), never echoing what was asked', async () => {
    for (const code of ['0000-0000-0000-0000', 'not-a-code', '%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'A'.repeat(500)]) {
      const p = await page(code);
      expect([code, p.status, p.headers.get('content-type')]).toEqual([code, 404, 'text/html; charset=utf-8']);
      expect(p.headers.get('content-security-policy')).toMatch(/^default-src 'none';/);
      expect(p.html).toContain('Certificate not found');
      expect(p.html).not.toMatch(/<script|0000-0000|not-a-code|AAAAAAAA/);
    }
  });

  it('speaks French when the browser prefers it', async () => {
    const { code } = await certificate('Cours de français');
    const p = await page(code, { 'accept-language': 'fr-CH, fr;q=0.9, en;q=0.5' });
    expect(p.html).toContain('<html lang="fr">');
    expect(p.html).toContain('Valide');
    expect(p.headers.get('content-language')).toBe('fr');
    expect(p.headers.get('vary')).toMatch(/Accept-Language/);
    expect((await page(code, { 'accept-language': 'de, en;q=0.1' })).headers.get('content-language')).toBe('en');
    expect((await page('0000-0000-0000-0000', { 'accept-language': 'fr' })).html).toContain('Certificat introuvable');
  });
});

describe('the issuer key at rest', () => {
  it('is sealed in the database, and signs after a restart with the same key', async () => {
    const row = (
      await sql<{ private_jwk: unknown; private_sealed: string | null }>`select private_jwk, private_sealed from credentials.issuer_keys`.execute(db())
    ).rows;
    expect(row).toHaveLength(1);
    expect(row[0]?.private_jwk).toBeNull();
    expect(isSealed(row[0]?.private_sealed ?? '')).toBe(true);
    expect(row[0]?.private_sealed).not.toMatch(/"d"|kty|OKP/);
    const before = await issuerKey();
    const earlier = await certificate('Before the restart');

    await node.stop();
    await start();
    const after = await issuerKey();
    expect(after.jwk).toEqual(before.jwk);
    expect(statusOf((await page(earlier.code)).html)).toBe('valid');
    // Signing needs the private key: a new certificate and the status list are signed now, and verify with the DID's key.
    const fresh = await certificate('After the restart');
    const { jwt } = (await http(base, 'GET', `/api/v1/credentials/${fresh.credentialId}/credential`)).body as { jwt: string };
    await expect(jwtVerify(jwt, after.key, { typ: 'vc+jwt', issuer: after.did })).resolves.toBeTruthy();
    const list = await fetch(`${base}/credentials/status/1`).then((r) => r.text());
    await expect(jwtVerify(list, after.key, { typ: 'vc+jwt', issuer: after.did })).resolves.toBeTruthy();
    expect(statusOf((await page(fresh.code)).html)).toBe('valid');
  }, 120_000);

  it('seals a key found in plain text (stored before sealing) in place at start, and signs with it', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'key-1' };
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'EdDSA' };
    await sql`update credentials.issuer_keys set private_jwk = ${JSON.stringify(privateJwk)}::jsonb, private_sealed = null,
      public_jwk = ${JSON.stringify(publicJwk)}::jsonb where kid = 'key-1'`.execute(db());

    await node.stop();
    await start();
    const row = (
      await sql<{ private_jwk: unknown; private_sealed: string | null }>`select private_jwk, private_sealed from credentials.issuer_keys`.execute(db())
    ).rows[0];
    expect(row?.private_jwk).toBeNull();
    expect(isSealed(row?.private_sealed ?? '')).toBe(true);
    expect(row?.private_sealed).not.toContain(String(privateJwk.d));
    const { key, did, jwk } = await issuerKey();
    expect(jwk.x).toBe(publicJwk.x);
    const fresh = await certificate('After sealing in place');
    const { jwt } = (await http(base, 'GET', `/api/v1/credentials/${fresh.credentialId}/credential`)).body as { jwt: string };
    await expect(jwtVerify(jwt, key, { typ: 'vc+jwt', issuer: did })).resolves.toBeTruthy();
    const verified = credentials.verify.output.parse(await node.broker.call(credentials.verify.action, { code: fresh.code }, { meta: { edge: true } }));
    expect(verified.status).toBe('valid');
  }, 120_000);

  it('seals again with CREDENTIALS_DATA_KEY a key an install sealed with its generated stand-in (it ran without the variable)', async () => {
    const before = await issuerKey();
    // What a start without the variable leaves: a stand-in in credentials.data_keys, the key sealed with it.
    const standIn = randomBytes(32);
    const privateJwk = await sealedPrivateJwk();
    await sql`insert into credentials.data_keys (id, key) values (1, ${standIn.toString('base64')})`.execute(db());
    await sql`update credentials.issuer_keys set private_sealed = ${new Sealer(standIn).seal(privateJwk, issuerKeyAad('key-1'))}`.execute(db());

    await node.stop();
    await start();
    const sealed = (await sql<{ private_sealed: string }>`select private_sealed from credentials.issuer_keys`.execute(db())).rows[0]?.private_sealed ?? '';
    expect(new Sealer(defined(dataKeyOf(ENV.CREDENTIALS_DATA_KEY))).open(sealed, issuerKeyAad('key-1'))).toBe(privateJwk);
    const after = await issuerKey();
    expect(after.jwk).toEqual(before.jwk);
    const fresh = await certificate('After sealing again');
    const { jwt } = (await http(base, 'GET', `/api/v1/credentials/${fresh.credentialId}/credential`)).body as { jwt: string };
    await expect(jwtVerify(jwt, after.key, { typ: 'vc+jwt', issuer: after.did })).resolves.toBeTruthy();
  }, 120_000);
});
