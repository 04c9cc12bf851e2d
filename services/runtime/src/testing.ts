/**
 * Unit tests of one service (or a few) over an in-process broker: embedded mode, an in-memory PGlite, in-process
 * events, and a TEST DOUBLE of the token verifier (named as such: it stands in for the auth service's keys, which a
 * single-service test does not run). Handlers are reached exactly as in production — through their Moleculer
 * action, with input/output validation, permissions and the unit of work — only the caller is minted by the test.
 *
 *   const node = await testNode([coursesService]);
 *   const alice = node.as({ userId: randomUUID(), roles: ['instructor'] });
 *   const course = await alice.call(courses.create, { title: 'Algebra' });
 *
 * A fake clock: `vi.useFakeTimers({ toFake: ['Date'] })` + `vi.setSystemTime(...)` moves what handlers read from
 * `Date`; SQL `now()` stays the database's.
 */
import { randomUUID } from 'node:crypto';
import { DomainError, type AnyProcedure } from '@lms/contracts';
import { Errors, type ServiceBroker } from 'moleculer';
import type { z } from 'zod';
import { startNode, type LmsNode, type RuntimeSettings } from './runtime.js';
import type { Caller, CallMeta, ServiceModule } from './service.js';
import type { Verifier } from './token-verifier.js';

const PREFIX = 'test-caller.';

/** TEST DOUBLE of TokenVerifier: a token is `test-caller.<base64url JSON of the Caller>`; nothing else is accepted. */
export class TestVerifier implements Verifier {
  private readonly revoked = new Set<string>();

  static tokenFor(caller: Caller): string {
    return PREFIX + Buffer.from(JSON.stringify(caller)).toString('base64url');
  }

  async verify(token: string): Promise<Caller> {
    if (!token.startsWith(PREFIX)) throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
    let caller: Caller;
    try {
      caller = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as Caller;
    } catch {
      throw new DomainError('TOKEN_INVALID', 'The access token is not valid');
    }
    if (caller.sessionId && this.revoked.has(caller.sessionId)) throw new DomainError('TOKEN_INVALID', 'The session of this access token has ended');
    return caller;
  }

  revokeSessions(sessionIds: string[]): void {
    for (const id of sessionIds) this.revoked.add(id);
  }

  keysRotated(): void {}

  async rolesChanged(): Promise<void> {}
}

/** A call's failure as the caller sees it: the error code and HTTP status the gateway would answer with. */
export interface CallFailure {
  code: string;
  status: number;
  message: string;
  data: unknown;
}

export interface TestClient {
  caller: Caller | undefined;
  /** Calls a procedure as this caller, through its action (validation, permission, handler, output check). */
  call<C extends AnyProcedure>(contract: C, input: z.input<C['input']>): Promise<z.output<C['output']>>;
  /** Calls a procedure that must fail, and answers how. */
  fail<C extends AnyProcedure>(contract: C, input: z.input<C['input']>): Promise<CallFailure>;
}

export interface TestNode extends LmsNode {
  /** A client calling as this caller (a fresh user id and `learner` by default), as if through the gateway. */
  as(caller?: Partial<Caller>): TestClient;
  /** A client with no token (public procedures). */
  anonymous(): TestClient;
  /** A client calling as another service would (internal procedures). */
  internal(caller?: Caller): TestClient;
}

/** Starts `services` in one embedded node on an in-memory database, with the test verifier. */
export async function testNode(services: ServiceModule[], overrides: Partial<RuntimeSettings> = {}): Promise<TestNode> {
  const node = await startNode(services, { mode: 'embedded', dataDir: 'memory://', port: 0, logLevel: 'warn', ...overrides }, {}, { verifier: () => new TestVerifier() });
  const client = (broker: ServiceBroker, caller: Caller | undefined, edge: boolean): TestClient => {
    const meta = (): CallMeta => ({ token: caller ? TestVerifier.tokenFor(caller) : undefined, edge, requestId: randomUUID() });
    const call = <C extends AnyProcedure>(contract: C, input: z.input<C['input']>) => broker.call<z.output<C['output']>, z.input<C['input']>>(contract.action, input, { meta: meta() });
    return {
      caller,
      call,
      async fail(contract, input) {
        try {
          await call(contract, input);
        } catch (err) {
          if (err instanceof Errors.MoleculerError) return { code: err.type, status: err.code, message: err.message, data: err.data };
          throw err;
        }
        throw new Error(`${contract.action} succeeded; the test expected it to fail`);
      },
    };
  };
  return {
    ...node,
    as: (c = {}) => client(node.broker, { userId: randomUUID(), roles: ['learner'], ...c }, true),
    anonymous: () => client(node.broker, undefined, true),
    internal: (c) => client(node.broker, c, false),
  };
}
