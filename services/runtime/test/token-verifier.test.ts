/**
 * The verifier keeps outages apart from verdicts: when the roles or the keys cannot be fetched, a call is answered
 * SERVICE_UNAVAILABLE, never with roles that may have been taken away, and never TOKEN_INVALID for a good token.
 */
import { DomainError } from '@lms/contracts';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, TokenVerifier, type RoleChange } from '../src/token-verifier.js';

async function signer(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const sign = (sub: string, roles: string[]) =>
    new SignJWT({ roles })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(sub)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 60)
      .setExpirationTime('15m')
      .sign(privateKey);
  return { jwk, sign };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (err instanceof DomainError ? err.code : String(err)),
  );

describe('token verifier during an outage', () => {
  it('does not keep roles it could not look up after a role change: 503 until the lookup succeeds', async () => {
    const key = await signer('k1');
    let down = false;
    let current: RoleChange[] = [];
    const v = new TokenVerifier({
      jwks: () => Promise.resolve({ keys: [key.jwk] }),
      roleChanges: () => (down ? Promise.reject(new Error('users unavailable')) : Promise.resolve(current)),
    });
    const token = await key.sign('u1', ['admin']);
    expect((await v.verify(token)).roles).toEqual(['admin']);
    // The admin role is taken away while the users service cannot answer the lookup the notice asks for.
    current = [{ userId: 'u1', roles: [], at: Date.now() }];
    down = true;
    await v.rolesChanged('u1');
    expect(await codeOf(v.verify(token))).toBe('SERVICE_UNAVAILABLE');
    down = false;
    expect((await v.verify(token)).roles).toEqual([]);
  });

  it('answers a token signed by a key it has not fetched yet as unavailable, not invalid, while the keys cannot be fetched', async () => {
    const old = await signer('k1');
    const rotated = await signer('k2');
    let keys = [old.jwk];
    let down = false;
    const v = new TokenVerifier({ jwks: () => (down ? Promise.reject(new Error('auth unavailable')) : Promise.resolve({ keys })) }, { refreshMinMs: 0 });
    expect((await v.verify(await old.sign('u1', []))).userId).toBe('u1');
    keys = [old.jwk, rotated.jwk];
    down = true;
    const fresh = await rotated.sign('u2', []);
    expect(await codeOf(v.verify(fresh))).toBe('SERVICE_UNAVAILABLE');
    down = false;
    expect((await v.verify(fresh)).userId).toBe('u2');
  });
});
