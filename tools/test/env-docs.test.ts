import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseEnv, runtimeEnv } from '@lms/runtime';
import { describe, expect, it } from 'vitest';
import { declarations, effectiveConfig, withEnvTable } from '../env-docs.ts';

const readme = path.resolve(import.meta.dirname, '../../README.md');

describe('typed configuration', () => {
  it("keeps README's environment table in sync with the declarations (`pnpm lms config --readme`)", () => {
    const text = fs.readFileSync(readme, 'utf8');
    expect(withEnvTable(text), 'README.md environment table is stale: run `pnpm lms config --readme`').toBe(text);
  });

  it('describes every declared variable, and no variable is declared differently by two owners', () => {
    const byName = new Map<string, string>();
    for (const { owner, schema } of declarations()) {
      for (const name of Object.keys(schema.shape)) {
        expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
        if (byName.has(name)) continue; // shared variables (PUBLIC_URL…) are parsed once, by the first owner
        byName.set(name, owner);
      }
    }
    expect(byName.size).toBeGreaterThan(10);
  });

  it('lists every problem at once, with the variable and what is wrong, never a secret', () => {
    const env = { PORT: 'eighty', LMS_MODE: 'cluster', LMS_EVENT_MAX_DELIVER: '-1', DATABASE_URL: 'postgres://u:hunter2@h/db' };
    let err: unknown;
    try {
      parseEnv([runtimeEnv], env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['LMS_EVENT_MAX_DELIVER', 'LMS_MODE', 'PORT']);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('prints the effective configuration with secrets masked', () => {
    const out = effectiveConfig(Object.keys({}), { DATABASE_URL: 'postgres://u:hunter2@h/db', PORT: '8080' });
    expect(out).toContain('PORT=8080');
    expect(out).toContain('DATABASE_URL=********');
    expect(out).not.toContain('hunter2');
    expect(out).toMatch(/LMS_MODE=embedded {2}\(default\)/);
  });
});
