/**
 * Credentials handlers over an in-process node (unit tier: PGlite, embedded events). The users and courses services
 * are TEST DOUBLES answering the two internal procedures credentials calls (names), so that a test controls them.
 */
import { randomUUID } from 'node:crypto';
import {
  coursesInternal,
  credentials,
  credentialsInternal,
  DomainError,
  enrollmentEvents,
  privacyExportContract,
  userEvents,
  usersInternal,
} from '@lms/contracts';
import { defineService, isSealed } from '@lms/runtime';
import { testNode, type TestNode } from '@lms/runtime/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { sql } from 'kysely';
import { inflateSync } from 'node:zlib';
import jsqr from 'jsqr';
import { PDFArray, PDFDocument, PDFName, PDFNumber, PDFDict, PDFRawStream } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defined, drained, waitFor } from '../../../tools/test/support.js';
import { bitOf, credentialsService, decodeList } from '../src/index.js';
import { achievementCredentialSchema } from './ob3-schema.js';

/** Names the stand-ins answer with, by id. */
const people = new Map<string, string>();
const courseTitles = new Map<string, string>();

const fakeUsers = defineService({
  name: 'users',
  contracts: { summaries: usersInternal.summaries },
  handlers: {
    summaries: ({ input }) =>
      Promise.resolve({
        items: input.ids.flatMap((id) => {
          const name = people.get(id);
          return name ? [{ id, displayName: name, email: null, status: 'active' as const }] : [];
        }),
      }),
  },
});

const fakeCourses = defineService({
  name: 'courses',
  contracts: { enrollmentTerms: coursesInternal.enrollmentTerms },
  handlers: {
    enrollmentTerms: ({ input }) => {
      const title = courseTitles.get(input.courseId);
      if (!title) return Promise.reject(new DomainError('COURSE_NOT_FOUND', 'No such course'));
      return Promise.resolve({
        courseId: input.courseId,
        title,
        status: 'published' as const,
        visibility: 'public' as const,
        version: 1,
        capacity: null,
        enrollOpensAt: null,
        enrollClosesAt: null,
        prerequisites: [],
      });
    },
  },
});

let node: TestNode;
const db = () => node.runtime.db.root;
const settled = () => drained({ db: db() });

/** A learner with a name and a course with a title, known to the stand-ins. */
function fixture(name = 'Ada Lovelace', title = 'Analytical Engines 101') {
  const userId = randomUUID();
  const courseId = randomUUID();
  people.set(userId, name);
  courseTitles.set(courseId, title);
  return { userId, courseId, name, title };
}

const issue = (f: { userId: string; courseId: string }) =>
  node.internal().call(credentialsInternal.issue, { userId: f.userId, courseId: f.courseId, completedAt: new Date().toISOString() });

/** Events of a subject in the embedded event log about one credential (or user). */
async function logged(subject: string, key: string, value: string): Promise<number> {
  const r = await sql<{
    n: number;
  }>`select count(*)::int as n from lms_events.log where subject = ${subject} and envelope->'payload'->>${key} = ${value}`.execute(db());
  return r.rows[0]?.n ?? 0;
}

async function issuerKey() {
  const doc = (await node.anonymous().call(credentials.didDocument, {})) as { id: string; verificationMethod: Array<{ id: string; publicKeyJwk: JWK }> };
  const vm = doc.verificationMethod[0];
  if (!vm) throw new Error('no verification method');
  return { did: doc.id, kid: vm.id, key: await importJWK(vm.publicKeyJwk, 'EdDSA') };
}

const admin = () => node.as({ roles: ['admin'] });

beforeAll(async () => {
  node = await testNode([fakeUsers, fakeCourses, credentialsService]);
}, 240_000);
afterAll(() => node?.stop());

/** The text a page draws: pdf-lib writes standard-font text as hex strings (`<48…> Tj`) in Flate-encoded streams. */
function pageText(doc: PDFDocument): string {
  const contents = doc.getPage(0).node.Contents();
  const streams = contents instanceof PDFArray ? contents.asArray().map((r) => doc.context.lookup(r)) : [contents];
  return streams
    .flatMap((st) => (st instanceof PDFRawStream ? [st] : []))
    .map((st) => (st.dict.get(PDFName.of('Filter')) ? inflateSync(st.contents) : Buffer.from(st.contents)).toString('latin1'))
    .join('\n')
    .replace(/<([0-9A-Fa-f]*)> Tj/g, (_, hex: string) => Buffer.from(hex, 'hex').toString('latin1'));
}

/** jsqr is CommonJS with `exports.default`: Node's ESM sees that object as the default export, vitest the function. */
const jsQR: (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null = typeof jsqr === 'function' ? jsqr : jsqr.default;

/** Decodes a QR code from an image XObject as pdf-lib embeds a PNG: 8-bit DeviceRGB pixels, Flate-encoded. */
function qrOf(img: PDFRawStream): string | undefined {
  const num = (k: string) => {
    const v = img.dict.get(PDFName.of(k));
    return v instanceof PDFNumber ? v.asNumber() : 0;
  };
  if (img.dict.get(PDFName.of('ColorSpace')) !== PDFName.of('DeviceRGB') || num('BitsPerComponent') !== 8) return undefined;
  const [w, h] = [num('Width'), num('Height')];
  const rgb = inflateSync(img.contents);
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([rgb[i * 3] ?? 0, rgb[i * 3 + 1] ?? 0, rgb[i * 3 + 2] ?? 0, 255], i * 4);
  return jsQR(rgba, w, h)?.data;
}

describe('credentials (unit: stand-in users and courses)', () => {
  it('issues once per learner and course: a repeat (and a concurrent one) answers the first, and `issued` is emitted once', async () => {
    const f = fixture();
    const first = await issue(f);
    expect(first.created).toBe(true);
    expect(first.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(await issue(f)).toEqual({ ...first, created: false });
    const g = fixture();
    const racing = await Promise.all([issue(g), issue(g), issue(g)]);
    expect(racing.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.credentialId)).size).toBe(1);
    await settled();
    expect(await logged('lms.credential.issued.v1', 'credentialId', first.credentialId)).toBe(1);
    expect(await logged('lms.credential.issued.v1', 'userId', g.userId)).toBe(1);
  });

  it('keeps the issuer private key sealed at rest: no plain JWK in the database, and it still signs', async () => {
    const rows = await sql<{ private_jwk: unknown; private_sealed: string | null; public_jwk: JWK }>`
      select private_jwk, private_sealed, public_jwk from credentials.issuer_keys`.execute(db());
    expect(rows.rows).toHaveLength(1);
    const [row] = rows.rows;
    expect(row?.private_jwk).toBeNull();
    expect(isSealed(row?.private_sealed ?? '')).toBe(true);
    // What is stored names no private key part: neither the JWK's `d` nor anything that parses as a JWK.
    expect(row?.private_sealed).not.toMatch(/"d"|kty/);
    const { key, did } = await issuerKey();
    const { jwt } = await node.anonymous().call(credentials.statusList, {});
    await expect(jwtVerify(jwt, key, { typ: 'vc+jwt', issuer: did })).resolves.toBeTruthy();
  });

  it('refuses a learner or a course the other services do not know, writing nothing', async () => {
    const f = fixture();
    people.delete(f.userId);
    expect((await node.internal().fail(credentialsInternal.issue, { ...f, completedAt: new Date().toISOString() })).code).toBe('USER_NOT_FOUND');
    const g = fixture();
    courseTitles.delete(g.courseId);
    expect((await node.internal().fail(credentialsInternal.issue, { ...g, completedAt: new Date().toISOString() })).code).toBe('COURSE_NOT_FOUND');
  });

  it('issues an OB 3.0 OpenBadgeCredential as a VC-JWT that verifies with the DID document key and meets the 1EdTech schema', async () => {
    const f = fixture('Grace Hopper', 'Compilers');
    const { credentialId } = await issue(f);
    const { jwt, credential } = await node.anonymous().call(credentials.credential, { id: credentialId });
    const { did, kid, key } = await issuerKey();
    expect(did).toMatch(/^did:web:localhost%3A\d+$/);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'EdDSA', typ: 'vc+jwt', kid });
    expect(kid).toBe(`${did}#key-1`);
    const { payload } = await jwtVerify(jwt, key, { typ: 'vc+jwt', issuer: did, algorithms: ['EdDSA'] });
    expect(payload).toEqual(credential);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv); // a CommonJS module: its default export is module.exports
    const validate = ajv.compile(achievementCredentialSchema);
    expect(validate(payload), JSON.stringify(validate.errors)).toBe(true);
    expect(payload).toMatchObject({
      '@context': ['https://www.w3.org/ns/credentials/v2', 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'],
      id: `urn:uuid:${credentialId}`,
      type: ['VerifiableCredential', 'OpenBadgeCredential'],
      issuer: { id: did, type: ['Profile'], name: 'LMS' },
      credentialSubject: {
        type: ['AchievementSubject'],
        identifier: [{ type: 'IdentityObject', identityType: 'name', identityHash: 'Grace Hopper', hashed: false }],
        achievement: { type: ['Achievement'], name: 'Compilers', criteria: { narrative: expect.any(String) }, description: expect.any(String) },
      },
      credentialStatus: {
        type: 'BitstringStatusListEntry',
        statusPurpose: 'revocation',
        statusListCredential: expect.stringMatching(/\/credentials\/status\/1$/),
      },
    });
    expect(String((payload.credentialSubject as { id: string }).id)).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    // A tampered credential does not verify.
    const [h, p, s] = jwt.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, name: 'Something else' })).toString('base64url')}.${s}`;
    await expect(jwtVerify(forged, key)).rejects.toThrow();
    expect(p).toBeTruthy();
  });

  it('publishes a signed Bitstring Status List of 131,072 bits; revoking sets the credential’s bit, and only it', async () => {
    const f = fixture();
    const other = fixture();
    const { credentialId, code } = await issue(f);
    const kept = await issue(other);
    const { key, did } = await issuerKey();
    const bitsNow = async () => {
      const { jwt } = await node.anonymous().call(credentials.statusList, {});
      const { payload } = await jwtVerify(jwt, key, { typ: 'vc+jwt', issuer: did });
      expect(payload.type).toEqual(['VerifiableCredential', 'BitstringStatusListCredential']);
      const subject = payload.credentialSubject as { type: string; statusPurpose: string; encodedList: string };
      expect(subject).toMatchObject({ type: 'BitstringStatusList', statusPurpose: 'revocation' });
      expect(subject.encodedList.startsWith('u')).toBe(true);
      return decodeList(subject.encodedList);
    };
    const indexOf = async (id: string) => {
      const { credential } = await node.anonymous().call(credentials.credential, { id });
      return Number((credential.credentialStatus as { statusListIndex: string }).statusListIndex);
    };
    const before = await bitsNow();
    expect(before.length * 8).toBeGreaterThanOrEqual(131_072);
    expect(bitOf(before, await indexOf(credentialId))).toBe(false);

    expect((await node.as().fail(credentials.revoke, { id: credentialId, reason: 'no' })).code).toBe('FORBIDDEN');
    const revoked = await admin().call(credentials.revoke, { id: credentialId, reason: 'Academic misconduct' });
    expect(revoked).toMatchObject({ status: 'revoked', revocationReason: 'Academic misconduct', revocationReasonPublic: false });
    expect((await admin().fail(credentials.revoke, { id: credentialId, reason: 'again' })).code).toBe('CONFLICT');
    expect((await admin().fail(credentials.revoke, { id: randomUUID(), reason: 'x' })).code).toBe('NOT_FOUND');

    const after = await bitsNow();
    expect(bitOf(after, await indexOf(credentialId))).toBe(true);
    expect(bitOf(after, await indexOf(kept.credentialId))).toBe(false);
    let set = 0;
    for (let i = 0; i < after.length * 8; i++) if (bitOf(after, i) !== bitOf(before, i)) set++;
    expect(set).toBe(1);
    await settled();
    expect(await logged('lms.credential.revoked.v1', 'credentialId', credentialId)).toBe(1);

    // The reason is private by default: verification says revoked, not why; the learner still sees why.
    const v = await node.anonymous().call(credentials.verify, { code });
    expect(v).toMatchObject({ status: 'revoked', revocationReason: null, checks: { signature: true, statusList: true } });
    expect((await node.as({ userId: f.userId }).call(credentials.mine, {})).items[0]).toMatchObject({
      status: 'revoked',
      revocationReason: 'Academic misconduct',
    });
    // Made public by the revocation, it is shown to anyone.
    const shown = await issue(fixture());
    await admin().call(credentials.revoke, { id: shown.credentialId, reason: 'Issued in error', reasonPublic: true });
    expect(await node.anonymous().call(credentials.verify, { code: shown.code })).toMatchObject({ status: 'revoked', revocationReason: 'Issued in error' });
  });

  it('verifies by code without an account: valid, revoked, unknown (and a code in lower case)', async () => {
    const f = fixture('Alan Turing', 'Computability');
    const { code, credentialId } = await issue(f);
    const v = await node.anonymous().call(credentials.verify, { code: code.toLowerCase() });
    expect(v).toMatchObject({
      status: 'valid',
      code,
      credentialId,
      learnerName: 'Alan Turing',
      course: 'Computability',
      issuer: 'LMS',
      revocationReason: null,
      // No CREDENTIALS_VALIDITY_DAYS: no expiry, in the answer and in the signed credential.
      validUntil: null,
      checks: { signature: true, statusList: true },
    });
    expect(Date.parse(v.issuedAt ?? '')).toBeGreaterThan(0);
    expect((await node.anonymous().call(credentials.credential, { id: credentialId })).credential).not.toHaveProperty('validUntil');
    expect((await node.anonymous().call(credentials.verify, { code: '0000-0000-0000-0000' })).status).toBe('unknown');
    expect((await node.anonymous().call(credentials.verify, { code: '<script>' })).status).toBe('unknown');
    // The verification reads the signed list, not the row's flag: a bit set behind the row's back shows.
    const { credential } = await node.anonymous().call(credentials.credential, { id: credentialId });
    const index = Number((credential.credentialStatus as { statusListIndex: string }).statusListIndex);
    await sql`update credentials.status_lists set bits = set_bit(bits, ${(index >> 3) * 8 + (7 - (index & 7))}, 1) where id = 1`.execute(db());
    expect((await node.anonymous().call(credentials.verify, { code })).status).toBe('revoked');
  });

  it('gives the learner and admins a PDF with the code and a QR code; to anyone else it does not exist', async () => {
    const f = fixture('Katherine Johnson', 'Orbital Mechanics');
    const { credentialId, code } = await issue(f);
    const learner = node.as({ userId: f.userId });
    const pdf = await learner.call(credentials.pdf, { id: credentialId });
    expect(pdf).toMatchObject({ filename: `certificate-${code}.pdf`, contentType: 'application/pdf' });
    const bytes = Buffer.from(pdf.base64, 'base64');
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    const doc = await PDFDocument.load(bytes);
    expect(doc.getPageCount()).toBe(1);
    expect(doc.getTitle()).toContain(code);
    const images = doc.context
      .enumerateIndirectObjects()
      .filter(([, o]) => o instanceof PDFRawStream && o.dict.get(PDFName.of('Subtype')) === PDFName.of('Image'));
    expect(images.length).toBeGreaterThanOrEqual(1);
    expect(doc.getPage(0).node.Resources()).toBeInstanceOf(PDFDict);
    // What is printed: the learner, the course, the date, the code and the verification URL, which the QR code
    // (decoded from the PDF's own pixels) opens.
    const mine0 = defined((await learner.call(credentials.mine, {})).items[0]);
    const printed = pageText(doc);
    for (const s of ['Katherine Johnson', 'Orbital Mechanics', mine0.issuedAt.slice(0, 10), `Verification code: ${code}`, mine0.verifyUrl]) {
      expect(printed).toContain(s);
    }
    expect(images.map(([, o]) => o).flatMap((o) => (o instanceof PDFRawStream ? [qrOf(o)] : []))).toContain(mine0.verifyUrl);
    expect((await admin().call(credentials.pdf, { id: credentialId })).filename).toBe(pdf.filename);
    expect((await node.as().fail(credentials.pdf, { id: credentialId })).code).toBe('NOT_FOUND');
    expect((await learner.fail(credentials.pdf, { id: randomUUID() })).code).toBe('NOT_FOUND');
    const mine = (await learner.call(credentials.mine, {})).items;
    expect(mine.map((c) => c.id)).toEqual([credentialId]);
    // The printed URL (and the QR code) is the public HTML page, not the JSON endpoint.
    expect(mine[0]?.verifyUrl).toMatch(new RegExp(`^http://localhost:\\d+/verify/${code}$`));
    expect((await node.as().call(credentials.mine, {})).items).toEqual([]);
  });

  it('issues the certificate of a course completed without assessments (enrollment.course_completed), once', async () => {
    const f = fixture('Emmy Noether', 'Abstract Algebra');
    const payload = { enrollmentId: randomUUID(), courseId: f.courseId, userId: f.userId, version: 1 };
    await node.publish(enrollmentEvents.courseCompleted, payload, f.userId);
    await node.publish(enrollmentEvents.courseCompleted, payload, f.userId);
    const learner = node.as({ userId: f.userId });
    const [c] = await waitFor(async () => {
      const { items } = await learner.call(credentials.mine, {});
      return items.length > 0 && items;
    });
    expect(c).toMatchObject({ courseId: f.courseId, courseTitle: 'Abstract Algebra', learnerName: 'Emmy Noether', status: 'active' });
    // The saga's call for the same completion answers the same certificate.
    expect(await issue(f)).toMatchObject({ credentialId: c?.id, created: false });
    await settled();
    await waitFor(async () => (await sql<{ n: number }>`select count(*)::int as n from credentials.pending`.execute(db())).rows[0]?.n === 0);
    expect(await logged('lms.credential.issued.v1', 'userId', f.userId)).toBe(1);
  });

  it('erasure: anonymises the name, deletes the signed JWT, revokes (reason erased) and sends the receipt; the export lists them before', async () => {
    const f = fixture('Rosalind Franklin', 'Crystallography');
    const { credentialId, code } = await issue(f);
    const exported = (await node.internal().call(privacyExportContract('credentials').privacyExport, { userId: f.userId })) as {
      data: { credentials: Array<{ id: string; code: string; credential: string | null }> };
    };
    expect(exported.data.credentials).toMatchObject([{ id: credentialId, code, credential: expect.any(String) }]);

    const requestId = randomUUID();
    await node.publish(userEvents.deleted, { userId: f.userId, requestId, by: f.userId }, f.userId);
    await settled();
    expect(await logged('lms.privacy.credentials_erased.v1', 'requestId', requestId)).toBe(1);
    const v = await node.anonymous().call(credentials.verify, { code });
    expect(v).toMatchObject({ status: 'revoked', revocationReason: 'erased', learnerName: 'Erased learner' });
    expect((await node.anonymous().fail(credentials.credential, { id: credentialId })).code).toBe('NOT_FOUND');
    const left = await sql<{ n: number }>`select count(*)::int as n from credentials.credentials
      where learner_name = ${f.name} or jwt is not null and user_id = ${f.userId}`.execute(db());
    expect(left.rows[0]?.n).toBe(0);
    expect(await logged('lms.credential.revoked.v1', 'credentialId', credentialId)).toBe(1);
  });
});
