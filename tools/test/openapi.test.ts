import fs from 'node:fs';
import path from 'node:path';
import { allProcedures } from '@lms/contracts';
import { buildOpenApi } from '@lms/gateway';
import { describe, expect, it } from 'vitest';

describe('clients/openapi.json', () => {
  it('is the document the contracts generate (run `pnpm openapi` after changing a contract)', () => {
    const committed = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../clients/openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApi())));
  });

  it('has one operation per REST-bound contract', () => {
    const doc = buildOpenApi() as { paths: Record<string, Record<string, { operationId: string }>> };
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    const fromContracts = allProcedures().filter((c) => c.rest).map((c) => c.action.replace(/\.(\w)/g, (_, ch: string) => ch.toUpperCase()));
    // Plus the four streaming file operations the gateway serves itself.
    expect(ops.sort()).toEqual([...fromContracts, 'filesUpload', 'filesUploadVersion', 'filesDownload', 'filesDownloadVariant'].sort());
  });
});
