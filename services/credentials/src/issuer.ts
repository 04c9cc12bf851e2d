import { randomBytes, randomInt } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { STATUS_LIST_BITS } from './migrations/20261201120000_credentials.js';
import type { CredentialRow } from './credentials.repository.js';

export const KID = 'key-1';
export const VC_CONTEXT = 'https://www.w3.org/ns/credentials/v2';
export const OB_CONTEXT = 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json';
/** The one revocation list's number in its URL. */
export const STATUS_LIST_ID = 1;

/** Crockford's base32 alphabet (no I, L, O, U). */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A verification code: 16 Crockford base32 characters (80 random bits) in groups of four, e.g. `7KQ2-M9XD-0RTA-F4VB`. */
export function newCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out = CROCKFORD[Number(bits & 31n)] + out;
    bits >>= 5n;
  }
  return out.match(/.{4}/g)?.join('-') ?? out;
}

/** A random index in the status list (the W3C recommends random: an index must not tell the order of issuing). */
export function randomStatusIndex(): number {
  return randomInt(0, STATUS_LIST_BITS);
}

/**
 * `did:web` of an installation from its public URL: the host (a port as `%3A`), then each path segment after a colon.
 * With a path the DID document lives at `<url>/did.json`, without one at `/.well-known/did.json`.
 */
export function didWebOf(publicUrl: string): string {
  const u = new URL(publicUrl);
  const path = u.pathname.split('/').filter(Boolean).map(encodeURIComponent);
  return ['did:web', encodeURIComponent(u.host), ...path].join(':');
}

/** The Multibase base64url (`u` prefix) of the GZIP of a bitstring: a BitstringStatusList's `encodedList`. */
export function encodeList(bits: Uint8Array): string {
  return `u${gzipSync(bits).toString('base64url')}`;
}

export function decodeList(encoded: string): Buffer {
  if (!encoded.startsWith('u')) throw new Error('encodedList is not multibase base64url');
  return gunzipSync(Buffer.from(encoded.slice(1), 'base64url'));
}

export interface IssuerIdentity {
  did: string;
  name: string;
  /** The public base URL (no trailing slash): links in credentials and on the PDF. */
  baseUrl: string;
}

export interface IssuerKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function generateIssuerKey(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), kid: KID }, publicJwk: { ...(await exportJWK(publicKey)), kid: KID, alg: 'EdDSA' } };
}

export async function importIssuerKey(privateJwk: JWK, publicJwk: JWK): Promise<IssuerKeys> {
  const privateKey = await importJWK(privateJwk, 'EdDSA');
  const publicKey = await importJWK(publicJwk, 'EdDSA');
  if (privateKey instanceof Uint8Array || publicKey instanceof Uint8Array) throw new Error('the issuer key is not an Ed25519 JWK');
  return { privateKey, publicKey, publicJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, kid: KID, alg: 'EdDSA' } };
}

/** The DID document of `did:web`: one Ed25519 verification method (JsonWebKey), for assertions (signing credentials). */
export function didDocument(id: IssuerIdentity, publicJwk: JWK) {
  const vm = `${id.did}#${KID}`;
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/jwk/v1'],
    id: id.did,
    verificationMethod: [{ id: vm, type: 'JsonWebKey', controller: id.did, publicKeyJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x } }],
    assertionMethod: [vm],
    authentication: [vm],
  };
}

export const urls = (id: IssuerIdentity) => ({
  credential: (credentialId: string) => `${id.baseUrl}/api/v1/credentials/${credentialId}/credential`,
  /** The public verification page (HTML, the gateway's); the QR code on the PDF points here. */
  verify: (code: string) => `${id.baseUrl}/verify/${code}`,
  /** The same verification as JSON. */
  verifyJson: (code: string) => `${id.baseUrl}/api/v1/verify/${code}`,
  statusList: `${id.baseUrl}/credentials/status/${STATUS_LIST_ID}`,
  achievement: (courseId: string) => `${id.baseUrl}/api/v1/courses/${courseId}#achievement`,
});

/** The Open Badges 3.0 OpenBadgeCredential of one certificate (VC Data Model 2.0). */
export function openBadgeCredential(
  id: IssuerIdentity,
  c: Pick<CredentialRow, 'id' | 'subject_id' | 'learner_name' | 'course_id' | 'course_title' | 'issued_at' | 'valid_until' | 'completed_at' | 'status_index'>,
) {
  const u = urls(id);
  return {
    '@context': [VC_CONTEXT, OB_CONTEXT],
    id: `urn:uuid:${c.id}`,
    type: ['VerifiableCredential', 'OpenBadgeCredential'],
    name: `${c.course_title} — certificate of completion`,
    issuer: { id: id.did, type: ['Profile'], name: id.name, url: id.baseUrl },
    validFrom: c.issued_at.toISOString(),
    // VC 2.0's expiry (no JWT `exp`: a JOSE library would then refuse the credential outright, where a verifier
    // should be able to say "expired" rather than "invalid").
    ...(c.valid_until && { validUntil: c.valid_until.toISOString() }),
    credentialSubject: {
      id: `urn:uuid:${c.subject_id}`,
      type: ['AchievementSubject'],
      activityEndDate: c.completed_at.toISOString(),
      // The learner's name, unhashed (OB 3.0 IdentityObject, identityType `name`): what a verifier reads on the certificate.
      identifier: [{ type: 'IdentityObject', identityHash: c.learner_name, identityType: 'name', hashed: false }],
      achievement: {
        id: u.achievement(c.course_id),
        type: ['Achievement'],
        achievementType: 'Certificate',
        name: c.course_title,
        description: `Completion of the course "${c.course_title}".`,
        criteria: { narrative: `Complete every required lesson and assessment of the course "${c.course_title}".` },
      },
    },
    credentialStatus: {
      id: `${u.statusList}#${c.status_index}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(c.status_index),
      statusListCredential: u.statusList,
    },
  };
}
export type OpenBadgeCredential = ReturnType<typeof openBadgeCredential>;

/** The BitstringStatusListCredential publishing the revocation bits. */
export function statusListCredential(id: IssuerIdentity, bits: Uint8Array, at: Date) {
  const u = urls(id);
  return {
    '@context': [VC_CONTEXT],
    id: u.statusList,
    type: ['VerifiableCredential', 'BitstringStatusListCredential'],
    issuer: id.did,
    validFrom: at.toISOString(),
    credentialSubject: { id: `${u.statusList}#list`, type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: encodeList(bits) },
  };
}

/** Secures a credential as VC-JWT (VC-JOSE-COSE): the payload is the credential; EdDSA, `typ: vc+jwt`, `kid` the DID's key. */
export async function signVc(id: IssuerIdentity, keys: IssuerKeys, vc: { id: string; validFrom: string }, subject?: string): Promise<string> {
  const jwt = new SignJWT(vc)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt', kid: `${id.did}#${KID}` })
    .setIssuer(id.did)
    .setJti(vc.id)
    .setIssuedAt(new Date(vc.validFrom))
    .setNotBefore(new Date(vc.validFrom));
  if (subject) jwt.setSubject(subject);
  return jwt.sign(keys.privateKey);
}

/** Verifies a VC-JWT with the issuer key (signature, `typ`, issuer, dates); the payload when it holds, else null. */
export async function verifyVc(id: IssuerIdentity, publicKey: CryptoKey, jwt: string): Promise<Record<string, unknown> | null> {
  try {
    const { payload } = await jwtVerify(jwt, publicKey, { algorithms: ['EdDSA'], typ: 'vc+jwt', issuer: id.did });
    return payload;
  } catch {
    return null;
  }
}
