import { coursesInternal, credentialEvents, DomainError, usersInternal } from '@lms/contracts';
import { Sealer, sealerOf, type Call, type Logger, type RunUnit, type ServiceContext } from '@lms/runtime';
import { decodeJwt, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import type { CredentialsEnv } from './config.js';
import { bitOf, type CredentialRow, type CredentialsDB, type CredentialsRepository } from './credentials.repository.js';
import {
  decodeList,
  didDocument,
  didWebOf,
  generateIssuerKey,
  importIssuerKey,
  KID,
  newCode,
  openBadgeCredential,
  randomStatusIndex,
  signVc,
  statusListCredential,
  urls,
  verifyVc,
  type IssuerIdentity,
  type IssuerKeys,
} from './issuer.js';

/** Binds a sealed private key to its key id: moved to another row, it does not open. */
export const issuerKeyAad = (kid: string) => `credentials.issuer_keys:${kid}`;

/** The opened value, or undefined when it does not open with this key. */
function tryOpen(sealer: Sealer, sealed: string, aad: string): string | undefined {
  try {
    return sealer.open(sealed, aad);
  } catch {
    return undefined;
  }
}

/** What an erased learner's certificates say instead of their name. */
export const ERASED_NAME = 'Erased learner';

const uniqueViolation = (err: unknown) => err instanceof Error && 'code' in err && err.code === '23505';

export type Issuing = { call: Call; uow: RunUnit<CredentialsDB, CredentialsRepository>; repo: CredentialsRepository };

export interface Verified {
  status: 'valid' | 'revoked' | 'expired' | 'unknown';
  signature: boolean;
  statusList: boolean;
}

/** The issuer: its identity and key, issuing (idempotent per learner and course), the signed status list, verification. */
export class Issuer {
  readonly identity: IssuerIdentity;
  private loading: Promise<IssuerKeys> | undefined;

  constructor(
    private readonly s: ServiceContext<CredentialsDB, CredentialsRepository, CredentialsEnv>,
    private readonly log: Logger,
  ) {
    const baseUrl = (s.config.PUBLIC_URL ?? `http://localhost:${s.runtime.config.port}`).replace(/\/$/, '');
    this.identity = { did: s.config.CREDENTIALS_ISSUER_DID ?? didWebOf(baseUrl), name: s.config.CREDENTIALS_ISSUER_NAME, baseUrl };
  }

  /**
   * The issuer key, generated and stored on first start (the first node to store one wins; the others use it). Its
   * private part is kept sealed with the data key; one found in plain text (stored before sealing existed) is sealed
   * in place here.
   */
  keys(): Promise<IssuerKeys> {
    this.loading ??= this.loadKeys().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async loadKeys(): Promise<IssuerKeys> {
    const sealer = await sealerOf({
      variable: 'CREDENTIALS_DATA_KEY',
      value: this.s.config.CREDENTIALS_DATA_KEY,
      production: this.s.runtime.config.env === 'production',
      stored: (make) => this.s.repo.dataKey(make),
      warn: (m) => this.log.warn(m),
      what: "the issuer's private key",
    });
    const aad = issuerKeyAad(KID);
    let row = await this.s.repo.key(KID);
    if (!row) {
      const k = await generateIssuerKey();
      await this.s.repo.insertKey(KID, sealer.seal(JSON.stringify(k.privateJwk), aad), k.publicJwk);
      row = await this.s.repo.key(KID);
      if (!row) throw new Error('no issuer key after storing one');
      this.log.info({ did: this.identity.did }, 'issuer key created');
    }
    if (row.private_sealed === null) {
      if (!row.private_jwk) throw new Error('the issuer key has no private part');
      if (await this.s.repo.sealKey(KID, sealer.seal(JSON.stringify(row.private_jwk), aad))) this.log.info({ kid: KID }, 'issuer private key sealed in place');
      return importIssuerKey(row.private_jwk, row.public_jwk);
    }
    const sealed = row.private_sealed;
    const opened = tryOpen(sealer, sealed, aad) ?? (await this.fromStandIn(sealer, sealed, aad));
    // Not a retryable fault: the node must not serve certificates it cannot sign. Say what to check, not the key.
    if (!opened) throw new Error('the issuer private key does not open with this data key: CREDENTIALS_DATA_KEY differs from the one it was sealed with');
    return importIssuerKey(JSON.parse(opened) as JWK, row.public_jwk);
  }

  /**
   * An install that ran without CREDENTIALS_DATA_KEY sealed its key with the generated stand-in; once the variable is
   * set, the key opens with the stand-in only: it is sealed again with the variable's key (the stand-in stays, unused).
   */
  private async fromStandIn(sealer: Sealer, sealed: string, aad: string): Promise<string | undefined> {
    const standIn = this.s.config.CREDENTIALS_DATA_KEY ? await this.s.repo.storedDataKey() : undefined;
    const opened = standIn ? tryOpen(new Sealer(Buffer.from(standIn, 'base64')), sealed, aad) : undefined;
    if (opened === undefined) return undefined;
    await this.s.repo.resealKey(KID, sealer.seal(opened, aad));
    this.log.info({ kid: KID }, 'issuer private key sealed again with CREDENTIALS_DATA_KEY (it was sealed with the generated stand-in)');
    return opened;
  }

  async didDocument() {
    return didDocument(this.identity, (await this.keys()).publicJwk);
  }

  get urls() {
    return urls(this.identity);
  }

  /**
   * Issues the course certificate (once per learner and course: a repeat answers the first, `created: false`). The
   * names are read first (remote calls, safe to repeat), then one unit of work stores the credential and emits
   * `issued` with it.
   */
  async issue(w: Issuing, input: { userId: string; courseId: string; completedAt: Date }) {
    const held = await w.repo.of(input.userId, input.courseId);
    if (held) return { credentialId: held.id, code: held.code, created: false };
    const [people, course] = await Promise.all([
      w.call(usersInternal.summaries, { ids: [input.userId] }),
      w.call(coursesInternal.enrollmentTerms, { courseId: input.courseId }),
    ]);
    const learner = people.items.find((p) => p.id === input.userId);
    if (!learner || learner.status === 'erased') throw new DomainError('USER_NOT_FOUND', 'No such learner');
    const keys = await this.keys();
    for (let tries = 1; ; tries++) {
      let index = randomStatusIndex();
      while (await w.repo.indexTaken(index)) index = randomStatusIndex();
      const issuedAt = new Date();
      const days = this.s.config.CREDENTIALS_VALIDITY_DAYS;
      const row: CredentialRow = {
        id: randomUUID(),
        code: newCode(),
        user_id: input.userId,
        course_id: input.courseId,
        subject_id: randomUUID(),
        learner_name: learner.displayName,
        course_title: course.title,
        status_index: index,
        jwt: null,
        completed_at: input.completedAt,
        issued_at: issuedAt,
        valid_until: days ? new Date(issuedAt.getTime() + days * 86_400_000) : null,
        revoked_at: null,
        revocation_reason: null,
        revocation_reason_public: false,
      };
      const vc = openBadgeCredential(this.identity, row);
      row.jwt = await signVc(this.identity, keys, vc, vc.credentialSubject.id);
      try {
        return await w.uow(async ({ repo, emit }) => {
          const stored = await repo.insert(row);
          if (!stored) {
            const first = await repo.of(input.userId, input.courseId);
            if (!first) throw new Error('credential neither inserted nor found');
            return { credentialId: first.id, code: first.code, created: false };
          }
          await emit(credentialEvents.issued, { userId: row.user_id, courseId: row.course_id, credentialId: row.id, code: row.code }, row.user_id);
          return { credentialId: row.id, code: row.code, created: true };
        });
      } catch (err) {
        // Another credential took the same random index or code meanwhile: draw again.
        if (!uniqueViolation(err) || tries >= 5) throw err;
      }
    }
  }

  /** The signed revocation list (VC-JWT) and its payload, from the bits as they are now. */
  async statusList() {
    const vc = statusListCredential(this.identity, await this.s.repo.statusBits(), new Date());
    const jwt = await signVc(this.identity, await this.keys(), vc);
    return { jwt, credential: vc };
  }

  /**
   * Verifies a credential as a stranger would: the JWT's signature with the issuer's public key (the DID document's),
   * then its bit in the signed status list it points to. The database's revocation flag is not read.
   */
  async verify(row: CredentialRow): Promise<Verified> {
    const { publicKey } = await this.keys();
    if (!row.jwt) {
      // Erased: the learner may still hold the JWT; the list says whether it stands.
      const bits = await this.s.repo.statusBits();
      return { status: bitOf(bits, row.status_index) ? 'revoked' : 'unknown', signature: false, statusList: true };
    }
    const vc = await verifyVc(this.identity, publicKey, row.jwt);
    if (!vc) return { status: 'unknown', signature: false, statusList: false };
    const entry = vc.credentialStatus as { statusListIndex?: unknown; statusListCredential?: unknown } | undefined;
    const index = Number(entry?.statusListIndex);
    if (entry?.statusListCredential !== this.urls.statusList || !Number.isSafeInteger(index)) return { status: 'unknown', signature: true, statusList: false };
    const list = await verifyVc(this.identity, publicKey, (await this.statusList()).jwt);
    const subject = list?.credentialSubject as { encodedList?: unknown } | undefined;
    if (typeof subject?.encodedList !== 'string') return { status: 'unknown', signature: true, statusList: false };
    if (bitOf(decodeList(subject.encodedList), index)) return { status: 'revoked', signature: true, statusList: true };
    const until = typeof vc.validUntil === 'string' ? Date.parse(vc.validUntil) : NaN;
    return { status: until < Date.now() ? 'expired' : 'valid', signature: true, statusList: true };
  }

  decode(jwt: string): Record<string, unknown> {
    return decodeJwt(jwt);
  }
}
