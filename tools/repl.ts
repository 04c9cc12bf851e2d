/**
 * The operator's REPL signs in as a person: an email, a password and (when the account uses two-step
 * sign-in) a TOTP code, through `auth.login` on the mesh. Every call it makes then carries that person's
 * access token (`meta.token`) and `meta.via = 'repl'`: services verify it like any other, so the REPL can do
 * what that person may do and no more, and each call is written to the audit log with them as the actor.
 */
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { auth, needsSecondFactor, type Session } from '@lms/contracts';
import { declareEnv, parseEnv, toPublicError, type CallMeta } from '@lms/runtime';
import { z } from 'zod';
import type { Context, Middleware, Service, ServiceBroker } from 'moleculer';

export interface ReplCredentials {
  email: string;
  password: string;
  /** Asked only when the account uses two-step sign-in. */
  totp: () => Promise<string>;
}

/** The sign-in calls themselves carry no token (an expired one would make them fail). */
const SIGN_IN_ACTIONS = new Set([auth.login.action, auth.mfaVerify.action, auth.refresh.action]);
const CLIENT = { ip: '127.0.0.1', userAgent: 'lms-repl' };

/** An error as the REPL prints it: code and message, no stack trace. */
export function replError(err: unknown): Error {
  const pub = toPublicError(err);
  const e = new Error(pub.message);
  e.name = pub.code;
  e.stack = `${pub.code} (${pub.status}): ${pub.message}`;
  return Object.assign(e, { code: pub.code, data: pub.details });
}

/** The REPL's signed-in person: their session, refreshed before the access token expires. */
export class ReplIdentity {
  private session: Session | undefined;
  private timer: NodeJS.Timeout | undefined;
  private broker: ServiceBroker | undefined;

  get token(): string | undefined {
    return this.session?.accessToken;
  }

  get user(): Session['user'] | undefined {
    return this.session?.user;
  }

  /**
   * Wraps every call the REPL node sends (all of them go to other nodes): the token and `via: 'repl'` go
   * along; errors lose their stacks.
   */
  middleware(): Middleware {
    return {
      name: 'ReplIdentity',
      created: (broker) => {
        this.broker = broker;
      },
      remoteAction: (next) => {
        const token = () => this.token;
        return function (this: Service, ctx: Context<unknown, CallMeta>) {
          ctx.meta.via = 'repl';
          const t = token();
          if (t && !SIGN_IN_ACTIONS.has(ctx.action?.name ?? '')) ctx.meta.token = t;
          return Promise.resolve(next.call(this, ctx)).catch((err: unknown) => {
            throw replError(err);
          });
        };
      },
    };
  }

  async signIn(c: ReplCredentials): Promise<Session['user']> {
    const broker = this.requireBroker();
    const first = auth.login.output.parse(
      await broker.call(auth.login.action, { email: c.email, password: c.password }, { meta: { edge: true, client: CLIENT } }),
    );
    const session = needsSecondFactor(first)
      ? auth.mfaVerify.output.parse(
          await broker.call(auth.mfaVerify.action, { mfaToken: first.mfaToken, code: (await c.totp()).trim() }, { meta: { edge: true, client: CLIENT } }),
        )
      : first;
    this.keep(session);
    return session.user;
  }

  /** Ends the session (its refresh token stops working) and the refresh timer. */
  async signOut(): Promise<void> {
    clearTimeout(this.timer);
    if (this.session && this.broker) await this.broker.call(auth.logout.action, {}, { meta: { edge: true } }).catch(() => {});
    this.session = undefined;
  }

  private requireBroker(): ServiceBroker {
    if (!this.broker) throw new Error('add ReplIdentity.middleware() to the broker first');
    return this.broker;
  }

  private keep(s: Session): void {
    this.session = s;
    clearTimeout(this.timer);
    // A minute before the access token expires (or half its life, if shorter), trade the refresh token.
    const inMs = Math.max(5_000, Math.min(s.expiresIn * 1000 - 60_000, (s.expiresIn * 1000) / 2));
    this.timer = setTimeout(() => void this.refresh(), inMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const s = this.session;
    if (!s) return;
    try {
      this.keep(
        auth.refresh.output.parse(
          await this.requireBroker().call(auth.refresh.action, { refreshToken: s.refreshToken }, { meta: { edge: true, client: CLIENT } }),
        ),
      );
    } catch (err) {
      console.error(`REPL session could not be refreshed (${err instanceof Error ? err.message : String(err)}); restart the REPL to sign in again`);
    }
  }
}

/** One line from the terminal; `hidden` echoes nothing (passwords). */
async function ask(question: string, hidden = false): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, encoding, done) {
      if (!muted) process.stdout.write(chunk, encoding);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
  try {
    process.stdout.write(question);
    muted = hidden;
    return (await rl.question('')).trim();
  } finally {
    muted = false;
    if (hidden) process.stdout.write('\n');
    rl.close();
  }
}

/** What `pnpm repl` reads: who it signs in as, for scripts; asked on the terminal otherwise. */
export const replEnv = declareEnv('repl', {
  LMS_REPL_EMAIL: z.string().optional().meta({ description: 'Who `pnpm repl` signs in as (asked when unset)' }),
  LMS_REPL_PASSWORD: z.string().optional().meta({ description: 'Their password (asked when unset)', secret: true }),
  LMS_REPL_TOTP: z.string().optional().meta({ description: 'A code from their authenticator app (asked when unset and needed)', secret: true }),
});

/** LMS_REPL_EMAIL / LMS_REPL_PASSWORD / LMS_REPL_TOTP for scripts; asked on the terminal otherwise. */
export async function replCredentials(source?: NodeJS.ProcessEnv): Promise<ReplCredentials> {
  const env = parseEnv([replEnv], source) as z.output<typeof replEnv>;
  const email = env.LMS_REPL_EMAIL ?? (await ask('Sign in to the LMS REPL as (email): '));
  const password = env.LMS_REPL_PASSWORD ?? (await ask('Password: ', true));
  return { email, password, totp: async () => env.LMS_REPL_TOTP ?? ask('Code from your authenticator app: ') };
}
