import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../src/domain/password-policy.js';

const ctx = { email: 'maria.lopez@example.com', displayName: 'Maria Lopez' };

describe('password policy', () => {
  it('accepts a long, uncommon password with no composition rules', () => {
    expect(passwordProblem('correct horse battery staple', ctx)).toBeUndefined();
    expect(passwordProblem('alllowercaseletters', ctx)).toBeUndefined();
  });

  it('refuses short, common, repeated and self-referencing passwords with a reason', () => {
    expect(passwordProblem('short', ctx)).toMatch(/at least 10/);
    expect(passwordProblem('1234567890', ctx)).toMatch(/most common/);
    expect(passwordProblem('Password123', ctx)).toMatch(/most common/);
    expect(passwordProblem('qwertyuiop', ctx)).toMatch(/most common/);
    expect(passwordProblem('aaaaaaaaaaaa', ctx)).toMatch(/repeated/);
    expect(passwordProblem('maria.lopez2026!', ctx)).toMatch(/email or name/);
    expect(passwordProblem('xxMariaLopezxx', ctx)).toMatch(/email or name/);
  });
});
