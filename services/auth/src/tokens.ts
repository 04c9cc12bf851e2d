import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { AuthRepository } from './auth.repository.js';

export const ISSUER = 'lms';
export const AUDIENCE = 'lms-api';

/** Lifetimes and rotation of the tokens (AUTH_ACCESS_TTL_S, AUTH_REFRESH_TTL_S, AUTH_KEY_ROTATE_DAYS, AUTH_KEY_OVERLAP_S). */
export interface TokenSettings {
  accessTtlS: number;
  refreshTtlS: number;
  rotateAfterDays: number;
  overlapS: number;
}

interface SigningKey {
  kid: string;
  key: CryptoKey;
  createdAt: Date;
}

/**
 * Ed25519 signing keys kept in the auth schema, shared by every auth node. The newest key signs.
 * Rotation adds a key; older keys stay in the JWKS for the overlap window (the access-token lifetime
 * plus `AUTH_KEY_OVERLAP_S`), so tokens signed before a rotation verify until they expire, then retire.
 * Keys rotate by themselves every `AUTH_KEY_ROTATE_DAYS`, or on demand (`auth.rotateKeys`).
 */
export class TokenIssuer {
  private current: { key: Promise<SigningKey>; loadedAt: number } | undefined;
  private readonly rotateAfterMs: number;
  private readonly overlapMs: number;
  constructor(
    private readonly repo: AuthRepository,
    readonly settings: TokenSettings,
  ) {
    this.rotateAfterMs = settings.rotateAfterDays * 86_400_000;
    this.overlapMs = (settings.accessTtlS + settings.overlapS) * 1000;
  }

  private async load(): Promise<SigningKey> {
    let newest = (await this.repo.keys())[0];
    if (!newest || Date.now() - newest.created_at.getTime() > this.rotateAfterMs) {
      await this.addKey();
      newest = (await this.repo.keys())[0];
      if (!newest) throw new Error('no signing key after adding one');
    }
    return { kid: newest.kid, key: (await importJWK(newest.private_jwk, 'EdDSA')) as CryptoKey, createdAt: newest.created_at };
  }

  private async addKey(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const kid = randomUUID();
    await this.repo.insertKey(kid, { ...(await exportJWK(privateKey)), kid }, { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' });
    return kid;
  }

  /** The key to sign with; re-read every minute so that a rotation on another node is picked up. */
  private signingKey(): Promise<SigningKey> {
    if (!this.current || Date.now() - this.current.loadedAt > 60_000) {
      const key = this.load();
      this.current = { key, loadedAt: Date.now() };
      // A failed load is not cached: the next token tries again (the caller sees this failure).
      void key.catch(() => (this.current = undefined));
    }
    return this.current.key;
  }

  /** Starts signing with a new key now; the previous ones keep verifying through the overlap window. */
  async rotate(): Promise<{ kid: string }> {
    const kid = await this.addKey();
    this.current = undefined;
    return { kid };
  }

  /** `amr` (RFC 8176): how the session signed in: `pwd`, `otp` (a second factor), `ext` (an identity provider). */
  async issue(user: { id: string; email: string; roles: string[] }, sessionId: string, amr: string[] = ['pwd']): Promise<string> {
    const k = await this.signingKey();
    return new SignJWT({ email: user.email, roles: user.roles, sid: sessionId, amr })
      .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: 'JWT' })
      .setSubject(user.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${this.settings.accessTtlS}s`)
      .sign(k.key);
  }

  /** The newest key, plus every key that signed within the overlap window. Private parts never leave. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.signingKey();
    const rows = await this.repo.keys();
    const live = rows.filter((r, i) => {
      if (i === 0) return true;
      // A key stopped signing when its successor was created; its tokens live ACCESS_TTL after that.
      const successor = rows[i - 1];
      return successor !== undefined && Date.now() - successor.created_at.getTime() < this.overlapMs;
    });
    return { keys: live.map((r) => ({ kty: 'OKP', crv: 'Ed25519', x: String(r.public_jwk.x), kid: r.kid, alg: 'EdDSA', use: 'sig' })) };
  }
}

/** An opaque single-use token (refresh, email link, MFA challenge, OIDC state): 256 random bits, stored hashed. */
export const newOpaqueToken = () => newRefreshToken();

/** A refresh token: 256 random bits for the client, only its SHA-256 kept in the database. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
