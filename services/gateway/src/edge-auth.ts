import { DomainError } from '@lms/contracts';
import type { Caller, Verifier } from '@lms/runtime';
import type { IncomingMessage } from 'node:http';

type WithAuthorization = { headers: Pick<IncomingMessage['headers'], 'authorization'> };

/**
 * Bearer tokens at the edge: read from the Authorization header and checked with the node's TokenVerifier
 * (the same one every action uses), so a bad token fails before any service is called. The gateway then
 * forwards the token itself (`meta.token`); each service derives the caller from it again.
 */
export class EdgeAuth {
  constructor(private readonly verifier: Verifier) {}

  /** The bearer token, or undefined when there is no Authorization header; throws on a malformed one. */
  tokenOf(req: WithAuthorization): string | undefined {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
    if (!m?.[1]) throw new DomainError('TOKEN_INVALID', 'Authorization must be "Bearer <token>"');
    return m[1];
  }

  /** Undefined when there is no Authorization header; throws on a bad one. Reads nothing but that header. */
  async callerOf(req: WithAuthorization): Promise<Caller | undefined> {
    const token = this.tokenOf(req);
    return token === undefined ? undefined : this.verifier.verify(token);
  }
}
