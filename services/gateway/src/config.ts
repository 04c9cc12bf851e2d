import { declareEnv, env, envOf, type Runtime } from '@lms/runtime';
import { FILES_MAX_BYTES, storageEnv } from '@lms/files/edge';
import { z } from 'zod';

/** The services /health/ready asks by default: every one of an embedded node. */
const ALL_SERVICES = [
  'auth',
  'users',
  'courses',
  'enrollments',
  'files',
  'analytics',
  'audit',
  'notifications',
  'assessments',
  'attempts',
  'assignments',
  'grades',
  'credentials',
];

/**
 * The gateway's environment, parsed once when the node starts. The file storage variables and FILES_MAX_BYTES are the
 * files service's own declaration (through `@lms/files/edge`, which loads no image or video code): the gateway moves
 * the bytes to and from the same storage.
 */
export const gatewayEnv = declareEnv('gateway', {
  HOST: z.string().default('0.0.0.0').meta({ description: 'Interface the gateway listens on' }),
  CORS_ORIGINS: z.string().optional().meta({ description: 'Origins allowed by CORS, comma-separated; unset or `*`: any', defaultText: '`*`' }),
  RATE_LIMIT_PER_MINUTE: env.int().default(1200).meta({ description: 'Requests per client IP per minute across the API' }),
  RATE_LIMIT_AUTH_PER_MINUTE: env.int().default(60).meta({ description: 'Requests per client IP per minute to `/auth/*` (and `auth.*` tRPC calls)' }),
  BODY_LIMIT_BYTES: env.int().default(1_048_576).meta({ description: 'Largest JSON request body in bytes (uploads have their own limit)' }),
  TRUST_PROXY: env.bool().default(false).meta({ description: 'Take the client IP from `X-Forwarded-For` (behind a reverse proxy only)' }),
  SHUTDOWN_GRACE_MS: env.int().min(0).default(5_000).meta({
    description:
      'On SIGTERM, how long the gateway goes on serving while `/health/ready` answers 503, before it stops accepting: longer than the load balancer takes to mark it down (HAProxy: `inter` × `fall`); skipped when nothing probed readiness',
  }),
  LMS_REQUIRED_SERVICES: env.list().default(ALL_SERVICES).meta({ description: 'Services `/health/ready` requires', defaultText: 'every service' }),
  FILES_MAX_BYTES,
  FILES_TUS_DIR: z
    .string()
    .optional()
    .meta({ description: 'Where resumable (tus) upload parts wait; gateways of a mesh must share it', defaultText: '`<LMS_DATA_DIR>/tus`' }),
  ...storageEnv,
});
export type GatewayConfig = z.output<typeof gatewayEnv>;

/** The gateway's variables, as the node parsed them when it started. */
export function gatewayConfigOf(runtime: Runtime): GatewayConfig {
  return envOf(runtime.config, gatewayEnv);
}

export interface GatewaySettings {
  port: number;
  host: string;
  corsOrigins: '*' | string[];
  /** Requests per client IP per minute, across the API. */
  rateLimit: number;
  /** Requests per client IP per minute to /auth/* (password guessing). */
  authRateLimit: number;
  bodyLimitBytes: number;
  trustProxy: boolean;
  requiredServices: string[];
  /** SHUTDOWN_GRACE_MS: serving on, not ready, before closing (drain.ts). */
  shutdownGraceMs: number;
}

export function gatewaySettings(runtime: Runtime): GatewaySettings {
  const c = gatewayConfigOf(runtime);
  return {
    port: runtime.config.port,
    host: c.HOST,
    corsOrigins: !c.CORS_ORIGINS || c.CORS_ORIGINS === '*' ? '*' : c.CORS_ORIGINS.split(',').map((s) => s.trim()),
    rateLimit: c.RATE_LIMIT_PER_MINUTE,
    authRateLimit: c.RATE_LIMIT_AUTH_PER_MINUTE,
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    trustProxy: c.TRUST_PROXY,
    requiredServices: c.LMS_REQUIRED_SERVICES,
    shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
  };
}
