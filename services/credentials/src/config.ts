import { dataKeyVariable, declareEnv, env } from '@lms/runtime';
import { z } from 'zod';

/** What the credentials service reads from the environment, parsed once when the node starts. */
export const credentialsEnv = declareEnv('credentials', {
  PUBLIC_URL: z
    .string()
    .optional()
    .meta({ description: 'Public base URL of the LMS (links in messages and redirects)', defaultText: '`http://localhost:<PORT>`' }),
  CREDENTIALS_ISSUER_DID: z
    .string()
    .regex(/^did:web:[A-Za-z0-9.%:_-]+$/, 'must be a did:web identifier')
    .optional()
    .meta({ description: 'The issuer of certificates (a did:web)', defaultText: '`did:web:` + the host of `PUBLIC_URL`' }),
  CREDENTIALS_ISSUER_NAME: z.string().default('LMS').meta({ description: 'Issuer name shown in certificates' }),
  CREDENTIALS_DATA_KEY: dataKeyVariable().meta({
    description: "Key sealing the issuer's private key: 32 bytes, base64 or hex; unset: a key generated once and kept in the credentials schema",
    secret: true,
  }),
  CREDENTIALS_VALIDITY_DAYS: env.int().min(1).optional().meta({
    description: 'Days a certificate is valid from its issue (its `validUntil`); verification then answers `expired`',
    defaultText: 'unset: no expiry',
  }),
  CREDENTIALS_POLL_MS: env.int().min(10).default(2000).meta({ description: 'How often certificates of completed courses still to issue are looked for (ms)' }),
});
export type CredentialsEnv = z.output<typeof credentialsEnv>;
