import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * AES-256-GCM for secrets a service must read back (auth's TOTP seeds, the credentials issuer's private key), unlike
 * passwords and tokens, which are only ever hashed. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url. The AAD binds a
 * sealed value to where it belongs (a user id, a key id): moved to another row, it no longer opens.
 */
export class Sealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the data key must be 32 bytes');
  }

  seal(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv, c.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  open(sealed: string, aad: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || body === undefined) throw new Error('not a sealed value');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
  }
}

/** Whether a value has the shape `seal` produces (it says nothing of the key it opens with). */
export function isSealed(value: string): boolean {
  return /^v1\.[\w-]+\.[\w-]+\.[\w-]*$/.test(value);
}

/** What is wrong with a data key's value (32 bytes, base64 or hex), or undefined when it is a key. */
export function dataKeyProblem(raw: string): string | undefined {
  return dataKeyOf(raw) ? undefined : 'must be 32 bytes, base64 or hex';
}

/** A data key's value as a key: 32 bytes as base64 or hex. Undefined when unset or not 32 bytes. */
export function dataKeyOf(raw: string | undefined): Buffer | undefined {
  if (!raw) return undefined;
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  return key.length === 32 ? key : undefined;
}

/** A data-key variable (`AUTH_DATA_KEY`, `CREDENTIALS_DATA_KEY`): optional, 32 bytes as base64 or hex; add `.meta()`. */
export function dataKeyVariable() {
  return z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      const problem = v === undefined ? undefined : dataKeyProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/**
 * The sealer of a service: the key from its variable, or else (development, embedded, or an install that has not set
 * it) a key generated once and kept in the service's own schema by `stored`, with a warning in production, where the
 * variable is expected (compose requires it): a key kept beside what it seals protects nothing from a database dump.
 */
export async function sealerOf(opts: {
  variable: string;
  value: string | undefined;
  production: boolean;
  stored: (make: () => string) => Promise<string>;
  warn: (message: string) => void;
  what: string;
}): Promise<Sealer> {
  const fromEnv = dataKeyOf(opts.value);
  if (fromEnv) return new Sealer(fromEnv);
  if (opts.production) opts.warn(`${opts.variable} is not set: ${opts.what} are sealed with a key stored in the database`);
  return new Sealer(Buffer.from(await opts.stored(() => randomBytes(32).toString('base64')), 'base64'));
}
