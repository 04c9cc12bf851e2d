/**
 * The transcribed 1EdTech AchievementCredential schema (ob3-schema.ts) against what the issuer builds, and against
 * credentials that break one requirement each: the schema must catch every one, or the issuance test proves little.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { openBadgeCredential } from '../src/issuer.js';
import { achievementCredentialSchema } from './ob3-schema.js';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv); // a CommonJS module: its default export is module.exports
const validate = ajv.compile(achievementCredentialSchema);

const identity = { did: 'did:web:lms.example.org', name: 'Example LMS', baseUrl: 'https://lms.example.org' };
const built = (validUntil: Date | null = null) =>
  openBadgeCredential(identity, {
    id: '6f1d5a52-8d1c-4c53-9a53-0e5f3d6b2a11',
    subject_id: '0b7e0d1e-3c4f-4c3a-8d3e-2f1a6b5c4d3e',
    learner_name: 'Ada Lovelace',
    course_id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    course_title: 'Analytical Engines 101',
    issued_at: new Date('2026-12-01T10:00:00Z'),
    completed_at: new Date('2026-11-30T18:00:00Z'),
    valid_until: validUntil,
    status_index: 4711,
  });
type Doc = Record<string, unknown>;
const clone = (): Doc => structuredClone(built());
const at = (d: Doc, ...path: string[]): Doc => path.reduce<Doc>((o, k) => o[k] as Doc, d);

describe('OB 3.0 AchievementCredential schema (1EdTech, transcribed)', () => {
  it('accepts what the issuer builds', () => {
    expect(validate(built()), JSON.stringify(validate.errors)).toBe(true);
    expect(built()).not.toHaveProperty('validUntil');
  });

  it('accepts it with an expiry (validUntil, VC 2.0)', () => {
    const expiring = built(new Date('2027-12-01T10:00:00Z'));
    expect(expiring.validUntil).toBe('2027-12-01T10:00:00.000Z');
    expect(validate(expiring), JSON.stringify(validate.errors)).toBe(true);
  });

  const breaks: Array<[string, (d: Doc) => void]> = [
    ['no @context', (d) => delete d['@context']],
    [
      '@context not starting with VC 2.0',
      (d) => (d['@context'] = ['https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json', 'https://www.w3.org/ns/credentials/v2']),
    ],
    ['@context without the OB context second', (d) => (d['@context'] = ['https://www.w3.org/ns/credentials/v2', 'https://example.org/other.json'])],
    ['no id', (d) => delete d.id],
    ['no name', (d) => delete d.name],
    ['type without VerifiableCredential', (d) => (d.type = ['OpenBadgeCredential'])],
    ['type without OpenBadgeCredential/AchievementCredential', (d) => (d.type = ['VerifiableCredential'])],
    ['no issuer', (d) => delete d.issuer],
    ['issuer without id', (d) => delete at(d, 'issuer').id],
    ['issuer not a Profile', (d) => (at(d, 'issuer').type = ['Organization'])],
    ['no validFrom', (d) => delete d.validFrom],
    ['validFrom not a date-time', (d) => (d.validFrom = 'yesterday')],
    ['no credentialSubject', (d) => delete d.credentialSubject],
    ['subject not an AchievementSubject', (d) => (at(d, 'credentialSubject').type = ['Person'])],
    [
      'subject with neither id nor identifier',
      (d) => {
        delete at(d, 'credentialSubject').id;
        delete at(d, 'credentialSubject').identifier;
      },
    ],
    ['identifier with an unknown identityType', (d) => (at(d, 'credentialSubject', 'identifier', '0').identityType = 'nickname')],
    ['no achievement', (d) => delete at(d, 'credentialSubject').achievement],
    ...(['id', 'type', 'name', 'description', 'criteria'] as const).map((k): [string, (d: Doc) => void] => [
      `achievement without ${k}`,
      (d) => delete at(d, 'credentialSubject', 'achievement')[k],
    ]),
    ['achievement not an Achievement', (d) => (at(d, 'credentialSubject', 'achievement').type = ['Badge'])],
    ['credentialStatus without type', (d) => delete at(d, 'credentialStatus').type],
    ['credentialStatus without id', (d) => delete at(d, 'credentialStatus').id],
  ];
  it.each(breaks)('refuses a credential with %s', (_, change) => {
    const d = clone();
    change(d);
    expect(validate(d)).toBe(false);
  });
});
