import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dataKeyOf, dataKeyProblem, dataKeyVariable, isSealed, Sealer, sealerOf } from '../src/sealer.js';

describe('Sealer (AES-256-GCM)', () => {
  const sealer = new Sealer(randomBytes(32));

  it('opens what it sealed, with the same AAD only; the sealed text holds nothing of the plain text', () => {
    const plain = '{"kty":"OKP","crv":"Ed25519","d":"secret-part"}';
    const sealed = sealer.seal(plain, 'issuer:key-1');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('secret-part');
    expect(sealer.open(sealed, 'issuer:key-1')).toBe(plain);
    expect(() => sealer.open(sealed, 'issuer:key-2')).toThrow();
    // A fresh IV each time: the same secret never seals to the same text.
    expect(sealer.seal(plain, 'issuer:key-1')).not.toBe(sealed);
  });

  it('refuses a tampered value, another key and what is not sealed', () => {
    const sealed = sealer.seal('abc', 'a');
    const [v, iv, tag, body] = sealed.split('.');
    const flipped = Buffer.from(body ?? '', 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => sealer.open([v, iv, tag, flipped.toString('base64url')].join('.'), 'a')).toThrow();
    expect(() => new Sealer(randomBytes(32)).open(sealed, 'a')).toThrow();
    expect(() => sealer.open('{"kty":"OKP"}', 'a')).toThrow('not a sealed value');
    expect(isSealed('{"kty":"OKP"}')).toBe(false);
    expect(() => new Sealer(randomBytes(16))).toThrow('32 bytes');
  });

  it('reads a data key as 32 bytes of base64 or hex, and says what is wrong with anything else', () => {
    const key = randomBytes(32);
    expect(dataKeyOf(key.toString('base64'))?.equals(key)).toBe(true);
    expect(dataKeyOf(key.toString('hex'))?.equals(key)).toBe(true);
    expect(dataKeyOf(undefined)).toBeUndefined();
    expect(dataKeyOf('too-short')).toBeUndefined();
    expect(dataKeyProblem('too-short')).toBe('must be 32 bytes, base64 or hex');
    expect(dataKeyVariable().safeParse('too-short').success).toBe(false);
    expect(dataKeyVariable().safeParse(undefined).success).toBe(true);
  });

  it('uses the variable when set; else a stored key, warning in production only', async () => {
    const key = randomBytes(32);
    const warnings: string[] = [];
    let stored: string | undefined;
    const opts = {
      variable: 'X_DATA_KEY',
      what: 'secrets',
      warn: (m: string) => warnings.push(m),
      stored: async (make: () => string) => (stored ??= make()),
    };
    const fromEnv = await sealerOf({ ...opts, value: key.toString('base64'), production: true });
    expect(new Sealer(key).open(fromEnv.seal('x', 'a'), 'a')).toBe('x');
    expect(stored).toBeUndefined();
    const dev = await sealerOf({ ...opts, value: undefined, production: false });
    expect(warnings).toEqual([]);
    const again = await sealerOf({ ...opts, value: undefined, production: true });
    expect(again.open(dev.seal('y', 'b'), 'b')).toBe('y');
    expect(warnings).toEqual(['X_DATA_KEY is not set: secrets are sealed with a key stored in the database']);
  });
});
