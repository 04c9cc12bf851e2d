import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { AuthRepository } from './auth.repository.js';

export const ISSUER = 'lms';
export const AUDIENCE = 'lms-api';
export const ACCESS_TTL_S = Number(process.env.AUTH_ACCESS_TTL_S ?? 900);
export const REFRESH_TTL_S = Number(process.env.AUTH_REFRESH_TTL_S ?? 30 * 24 * 3600);

interface SigningKey {
  kid: string;
  key: CryptoKey;
  publicJwk: JWK;
}

/**
 * Ed25519 signing keys kept in the auth schema, shared by every auth node. The newest key signs;
 * all keys are published in the JWKS so tokens survive a rotation.
 */
export class TokenIssuer {
  private current: Promise<SigningKey> | undefined;
  constructor(private readonly repo: AuthRepository) {}

  private async load(): Promise<SigningKey> {
    let rows = await this.repo.keys();
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const kid = randomUUID();
      await this.repo.insertKey(kid, { ...(await exportJWK(privateKey)), kid }, { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' });
      rows = await this.repo.keys();
    }
    const newest = rows[0]!;
    return { kid: newest.kid, key: (await importJWK(newest.private_jwk, 'EdDSA')) as CryptoKey, publicJwk: newest.public_jwk };
  }

  private signingKey(): Promise<SigningKey> {
    this.current ??= this.load().catch((err) => {
      this.current = undefined;
      throw err;
    });
    return this.current;
  }

  async issue(user: { id: string; email: string; roles: string[] }, sessionId: string): Promise<string> {
    const k = await this.signingKey();
    return new SignJWT({ email: user.email, roles: user.roles, sid: sessionId })
      .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: 'JWT' })
      .setSubject(user.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${ACCESS_TTL_S}s`)
      .sign(k.key);
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    await this.signingKey();
    const rows = await this.repo.keys();
    return { keys: rows.map((r) => ({ ...r.public_jwk, kid: r.kid, alg: 'EdDSA', use: 'sig' })) };
  }
}

/** A refresh token: 256 random bits for the client, only its SHA-256 kept in the database. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
