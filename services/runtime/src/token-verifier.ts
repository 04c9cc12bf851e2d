import { DomainError } from '@lms/contracts';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Caller } from './service.js';

export const TOKEN_ISSUER = 'lms';
export const TOKEN_AUDIENCE = 'lms-api';

/** A user's roles as the users service holds them now, and when they last changed (epoch ms). */
export interface RoleChange {
  userId: string;
  roles: string[];
  at: number;
}

/** Where a verifier gets what it trusts: the auth service's public keys, the users service's roles. */
export interface TokenSources {
  jwks(): Promise<JSONWebKeySet>;
  /** Users whose roles changed since `since` (epoch ms), or the named users. Absent: the token's roles are final. */
  roleChanges?(q: { since?: number; userIds?: string[] }): Promise<RoleChange[]>;
}

export interface TokenVerifierOptions {
  /** Least time between two JWKS fetches caused by tokens naming an unknown key (LMS_JWKS_REFRESH_MIN_MS). */
  refreshMinMs?: number;
  /** Access-token lifetime (AUTH_ACCESS_TTL_S): how long a role change or a revocation must be remembered. */
  accessTtlMs?: number;
}

interface Verified {
  caller: Caller;
  iatMs: number;
  expMs: number;
}

/** Clocks of the auth and users nodes may differ this much: a token issued this soon after a role change still gets the overlay. */
const SKEW_MS = 5_000;
const CACHE_MAX = 10_000;
const LOOKUP_WAIT_MS = 5_000;
const KEYS_MAX_AGE_MS = 5 * 60_000;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies access tokens (EdDSA JWTs from the auth service) on every node: the gateway for the edge, and the
 * runtime for every action, so that a service learns its caller from a signature, never from what a mesh
 * peer wrote into `ctx.meta`.
 *
 * - Keys: the JWKS, cached; fetched again after 5 minutes, on `auth.keys.rotated`, or when a token names an
 *   unknown key — at most once per `refreshMinMs`, concurrent fetches shared (random kids cannot flood auth).
 * - Verified tokens are cached until they expire (an EdDSA verification costs more than a small request).
 * - Revoked sessions (`auth.sessions.revoked`) are refused until their tokens would have expired.
 * - Roles: a token's roles hold at its issue; when a user's roles change later (`users.roles.changed`) the
 *   verifier asks the users service for the current ones and uses them for that user's older tokens. At first
 *   use it loads the changes of the last token lifetime, so a node that missed a notice is not left stale.
 */
/** What a node needs of a token verifier (the real one below; tests may start a node with a named test double). */
export type Verifier = Pick<TokenVerifier, 'verify' | 'revokeSessions' | 'keysRotated' | 'rolesChanged'>;

export class TokenVerifier {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private keysAt = 0;
  private keysLoading: Promise<ReturnType<typeof createLocalJWKSet>> | undefined;
  private keysStale = false;
  private lastUnknownKidRefresh = Number.NEGATIVE_INFINITY;
  private readonly verified = new Map<string, Verified>();
  private readonly revoked = new Map<string, number>();
  private readonly roles = new Map<string, RoleChange>();
  private rolesLoaded: Promise<void> | undefined;
  private readonly rolesPending = new Map<string, Promise<void>>();
  /** Users whose role-change lookup failed: looked up again before their next call is trusted. */
  private readonly rolesUnknown = new Set<string>();
  private readonly refreshMinMs: number;
  private readonly accessTtlMs: number;

  constructor(
    private readonly sources: TokenSources,
    opts: TokenVerifierOptions = {},
  ) {
    this.refreshMinMs = opts.refreshMinMs ?? 30_000;
    this.accessTtlMs = opts.accessTtlMs ?? 900_000;
  }

  /** The caller a token stands for, with their current roles; throws TOKEN_INVALID for anything but a good token. */
  async verify(token: string): Promise<Caller> {
    if (token.length > 8192 || !TOKEN_SHAPE.test(token)) throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
    let v = this.verified.get(token);
    if (v && v.expMs <= Date.now()) {
      this.verified.delete(token);
      v = undefined;
    }
    v ??= await this.check(token);
    const until = v.caller.sessionId ? this.revoked.get(v.caller.sessionId) : undefined;
    if (until !== undefined && until > Date.now()) throw new DomainError('TOKEN_INVALID', 'The session of this access token has ended');
    return this.currentRoles(v);
  }

  /** From `auth.sessions.revoked`: refuse these sessions' tokens until `until`. */
  revokeSessions(sessionIds: string[], until: number): void {
    const now = Date.now();
    for (const [sid, t] of this.revoked) if (t <= now) this.revoked.delete(sid);
    for (const sid of sessionIds) this.revoked.set(sid, until);
  }

  /** From `auth.keys.rotated`: fetch the keys again before the next verification that needs them. */
  keysRotated(): void {
    this.keysStale = true;
  }

  /**
   * From `users.roles.changed`: look the user's roles up again. The notice only names the user; the roles
   * come from the users service, so a forged notice grants nothing.
   */
  rolesChanged(userId: string): Promise<void> {
    return this.refreshRoles(userId).catch(() => {});
  }

  /**
   * Looks one user's roles up again. A lookup that failed (the users service or its database away) is not "nothing
   * changed": the user stays marked, and their next verification looks again — and answers 503 while it cannot —
   * rather than keep roles that may have been taken away.
   */
  private refreshRoles(userId: string): Promise<void> {
    const lookup = this.lookUpRoles([userId])
      .then(
        () => void this.rolesUnknown.delete(userId),
        (err: unknown) => {
          this.rolesUnknown.add(userId);
          throw err;
        },
      )
      .finally(() => {
        if (this.rolesPending.get(userId) === lookup) this.rolesPending.delete(userId);
      });
    this.rolesPending.set(userId, lookup);
    return lookup;
  }

  private async lookUpRoles(userIds: string[]): Promise<void> {
    if (!this.sources.roleChanges) return;
    this.apply(await this.sources.roleChanges({ userIds }));
  }

  private apply(changes: RoleChange[]): void {
    const now = Date.now();
    for (const [id, c] of this.roles) if (c.at + this.accessTtlMs + SKEW_MS < now) this.roles.delete(id);
    for (const c of changes) {
      const known = this.roles.get(c.userId);
      if (!known || known.at <= c.at) this.roles.set(c.userId, c);
    }
  }

  private async currentRoles(v: Verified): Promise<Caller> {
    if (!this.sources.roleChanges) return v.caller;
    this.rolesLoaded ??= this.sources.roleChanges({ since: Date.now() - this.accessTtlMs - SKEW_MS }).then((c) => this.apply(c));
    try {
      // Bounded: in embedded mode a lookup waits for the one database connection, which a transaction making
      // this nested call may hold; failing the call ends the wait instead of deadlocking.
      await within(this.rolesLoaded, LOOKUP_WAIT_MS);
      const uid = v.caller.userId;
      const pending = this.rolesPending.get(uid) ?? (this.rolesUnknown.has(uid) ? this.refreshRoles(uid) : undefined);
      if (pending) await within(pending, LOOKUP_WAIT_MS);
    } catch {
      this.rolesLoaded = undefined; // tried again by the next call
      throw new DomainError('SERVICE_UNAVAILABLE', 'Roles cannot be checked right now; try again shortly');
    }
    const change = this.roles.get(v.caller.userId);
    return change && v.iatMs <= change.at + SKEW_MS ? { ...v.caller, roles: change.roles } : v.caller;
  }

  private loadKeys(): Promise<ReturnType<typeof createLocalJWKSet>> {
    this.keysLoading ??= this.sources
      .jwks()
      .then((jwks) => {
        this.keys = createLocalJWKSet(jwks);
        this.keysAt = Date.now();
        this.keysStale = false;
        return this.keys;
      })
      .finally(() => (this.keysLoading = undefined));
    return this.keysLoading;
  }

  private async keySet(): Promise<ReturnType<typeof createLocalJWKSet>> {
    try {
      if (this.keys && !this.keysStale && Date.now() - this.keysAt < KEYS_MAX_AGE_MS) return this.keys;
      return await this.loadKeys();
    } catch {
      throw new DomainError('SERVICE_UNAVAILABLE', 'Access tokens cannot be checked right now; try again shortly');
    }
  }

  /**
   * A fetch caused by an unknown kid: shared with one in flight, else at most one per refreshMinMs. A fetch that fails
   * (auth away) is an outage, not a verdict: a token signed by a key this node has not seen yet must not read as
   * forged because the keys could not be fetched.
   */
  private async keysForUnknownKid(): Promise<ReturnType<typeof createLocalJWKSet> | undefined> {
    const unavailable = () => {
      throw new DomainError('SERVICE_UNAVAILABLE', 'Access tokens cannot be checked right now; try again shortly');
    };
    if (this.keysLoading) return this.keysLoading.catch(unavailable);
    if (Date.now() - this.lastUnknownKidRefresh < this.refreshMinMs) return undefined;
    this.lastUnknownKidRefresh = Date.now();
    return this.loadKeys().catch(unavailable);
  }

  private async check(token: string): Promise<Verified> {
    const keys = await this.keySet();
    try {
      return this.remember(token, await this.verifyWith(token, keys));
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) return reject(err);
      const fresh = await this.keysForUnknownKid();
      if (!fresh || fresh === keys) return reject(err);
      return this.remember(token, await this.verifyWith(token, fresh).catch(reject));
    }
  }

  private async verifyWith(token: string, keys: ReturnType<typeof createLocalJWKSet>): Promise<Verified> {
    const { payload } = await jwtVerify(token, keys, {
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      algorithms: ['EdDSA'],
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number' || typeof payload.iat !== 'number') throw new Error('claims missing');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return {
      caller: {
        userId: payload.sub,
        roles,
        email: typeof payload.email === 'string' ? payload.email : undefined,
        sessionId: typeof payload.sid === 'string' ? payload.sid : undefined,
        mfa: Array.isArray(payload.amr) && payload.amr.includes('otp'),
      },
      iatMs: payload.iat * 1000,
      expMs: payload.exp * 1000,
    };
  }

  private remember(token: string, v: Verified): Verified {
    if (this.verified.size >= CACHE_MAX) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, v);
    return v;
  }
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error('timed out')), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function reject(err: unknown): never {
  if (err instanceof DomainError) throw err;
  if (err instanceof joseErrors.JWTExpired) throw new DomainError('TOKEN_INVALID', 'The access token has expired');
  throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
}
