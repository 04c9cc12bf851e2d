import { DomainError } from '@lms/contracts';
import type { Caller } from '@lms/runtime';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import type { IncomingMessage } from 'node:http';

const ISSUER = 'lms';
const AUDIENCE = 'lms-api';

/**
 * Verifies bearer tokens at the edge with the auth service's JWKS, cached and refreshed
 * when a token names a key the cache does not hold (key rotation).
 */
export class EdgeAuth {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = 0;
  /**
   * Verified tokens until they expire: an EdDSA verification costs more CPU than the rest of a
   * small request, and a client sends the same token many times. Bounded; oldest entries go first.
   */
  private readonly verified = new Map<string, { caller: Caller; expMs: number }>();
  private static readonly CACHE_MAX = 10_000;
  /** Sessions revoked while their access tokens may still be unexpired: session id → until when. */
  private readonly revoked = new Map<string, number>();

  /** From the auth.sessions.revoked broadcast: refuse these sessions' tokens until `until`. */
  revokeSessions(sessionIds: string[], until: number): void {
    const now = Date.now();
    for (const [sid, t] of this.revoked) if (t <= now) this.revoked.delete(sid);
    for (const sid of sessionIds) this.revoked.set(sid, until);
  }

  private ended(caller: Caller): boolean {
    const until = caller.sessionId ? this.revoked.get(caller.sessionId) : undefined;
    return until !== undefined && until > Date.now();
  }
  constructor(private readonly fetchJwks: () => Promise<JSONWebKeySet>) {}

  private async keySet(force = false) {
    if (!this.keys || force || Date.now() - this.fetchedAt > 5 * 60_000) {
      this.keys = createLocalJWKSet(await this.fetchJwks());
      this.fetchedAt = Date.now();
    }
    return this.keys;
  }

  /** Undefined when there is no Authorization header; throws on a bad one. Reads nothing but that header. */
  async callerOf(req: { headers: Pick<IncomingMessage['headers'], 'authorization'> }): Promise<Caller | undefined> {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
    if (!m) throw new DomainError('TOKEN_INVALID', 'Authorization must be "Bearer <token>"');
    const token = m[1]!;
    const hit = this.verified.get(token);
    let caller: Caller;
    if (hit && hit.expMs > Date.now()) caller = hit.caller;
    else {
      if (hit) this.verified.delete(token);
      try {
        caller = await this.verify(token, false);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) return this.reject(err);
        caller = await this.verify(token, true).catch(() => this.reject(err));
      }
    }
    if (this.ended(caller)) throw new DomainError('TOKEN_INVALID', 'The session of this access token has ended');
    return caller;
  }

  private async verify(token: string, refresh: boolean): Promise<Caller> {
    const { payload } = await jwtVerify(token, await this.keySet(refresh), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'] });
    if (typeof payload.sub !== 'string') throw new Error('no subject');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const caller: Caller = {
      userId: payload.sub,
      roles,
      email: typeof payload.email === 'string' ? payload.email : undefined,
      sessionId: typeof payload.sid === 'string' ? payload.sid : undefined,
      mfa: Array.isArray(payload.amr) && payload.amr.includes('otp'),
    };
    if (typeof payload.exp === 'number') {
      if (this.verified.size >= EdgeAuth.CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { caller, expMs: payload.exp * 1000 });
    }
    return caller;
  }

  private reject(err: unknown): never {
    if (err instanceof DomainError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new DomainError('TOKEN_INVALID', 'The access token has expired');
    throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
  }
}

