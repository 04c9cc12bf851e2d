import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * NIST 800-63B style: a minimum length, no composition rules, and a refusal of passwords that are
 * common or built from the account's own name. The list is zxcvbn's ~30k most common passwords
 * (bundled through @zxcvbn-ts/language-common; nothing is fetched at run time).
 */
export const MIN_LENGTH = 10;
let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  common ??= new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  return common;
}

/** Why a password is refused, in words a user can act on; undefined when it is acceptable. */
export function passwordProblem(password: string, context: { email: string; displayName?: string }): string | undefined {
  if (password.length < MIN_LENGTH) return `must be at least ${MIN_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'is one of the most common passwords; choose another';
  if (/^(.)\1+$/.test(password)) return 'is one character repeated; choose another';
  const local = (context.email.split('@')[0] ?? '').toLowerCase();
  const name = context.displayName?.toLowerCase().replace(/\s+/g, '');
  if ((local.length >= 4 && lower.includes(local)) || (name && name.length >= 4 && lower.includes(name))) {
    return 'must not contain your email or name';
  }
  return undefined;
}
