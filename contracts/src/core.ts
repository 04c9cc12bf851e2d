import { z } from 'zod';

/** Who may call a procedure: anyone, any signed-in user, or holders of a permission. */
/** `internal`: only another service may call it; the gateway never exposes it. */
export type Permission = 'public' | 'authenticated' | 'internal' | PermissionName;

/** Roles grant permissions; the map lives here so services and gateway agree on it. */
export const rolePermissions = {
  admin: ['users:manage', 'courses:write', 'courses:read-all', 'analytics:read', 'audit:read', 'notifications:manage', 'search:manage'],
  instructor: ['courses:write', 'analytics:read'],
  /** Read-only oversight: the audit log, nothing else. */
  auditor: ['audit:read'],
  student: [],
} as const satisfies Record<string, readonly string[]>;
export type Role = keyof typeof rolePermissions;
export const roles = Object.keys(rolePermissions) as Role[];
export type PermissionName = (typeof rolePermissions)[Role][number];

/**
 * Course-scoped roles: what a member may do in one course, whatever their global role. The owner
 * created the course; instructors co-teach; teaching assistants grade and see drafts; learners take it.
 */
export const courseRolePermissions = {
  owner: [
    'course:view',
    'course:view-drafts',
    'course:edit',
    'course:publish',
    'course:grade',
    'course:announce',
    'course:members:read',
    'course:members:manage',
    'course:members:manage-staff',
  ],
  instructor: [
    'course:view',
    'course:view-drafts',
    'course:edit',
    'course:publish',
    'course:grade',
    'course:announce',
    'course:members:read',
    'course:members:manage',
  ],
  ta: ['course:view', 'course:view-drafts', 'course:grade', 'course:announce', 'course:members:read'],
  learner: ['course:view'],
} as const satisfies Record<string, readonly string[]>;
export type CourseRole = keyof typeof courseRolePermissions;
export const courseRoles = Object.keys(courseRolePermissions) as CourseRole[];
export type CoursePermission = (typeof courseRolePermissions)[CourseRole][number];

export function coursePermissionsOf(role: CourseRole | undefined): Set<CoursePermission> {
  return new Set(role ? courseRolePermissions[role] : []);
}

/**
 * The permissions a caller's roles grant. Roles listed in `mfaRequiredRoles` (e.g. admin, where the
 * install requires it) grant theirs only to a session that signed in with a second factor.
 */
export function permissionsOf(roleList: readonly string[], opts: { mfa?: boolean; mfaRequiredRoles?: readonly string[] } = {}): Set<PermissionName> {
  const out = new Set<PermissionName>();
  for (const r of roleList) {
    if (!opts.mfa && opts.mfaRequiredRoles?.includes(r)) continue;
    for (const p of rolePermissions[r as Role] ?? []) out.add(p);
  }
  return out;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestBinding {
  method: HttpMethod;
  /** OpenAPI-style path under /api/v1, e.g. `/courses/{courseId}`. */
  path: string;
  /** Success status; 200 unless given. */
  status?: number;
  /** Also accept a form post with the input in the query string (one-click links from mail clients). */
  acceptsForm?: boolean;
}

export interface ProcedureContract<
  I extends z.ZodType = z.ZodType,
  O extends z.ZodType = z.ZodType,
  K extends 'query' | 'mutation' = 'query' | 'mutation',
  P extends Permission = Permission,
> {
  kind: K;
  input: I;
  output: O;
  /** Kept as a literal type: handlers of procedures that need a caller receive one (see the runtime's HandlerArgs). */
  permission: P;
  /** Absent for internal procedures. */
  rest?: RestBinding;
  summary: string;
  /** The error codes this procedure can answer with, besides the common ones. */
  errors?: readonly ErrorCode[];
  /**
   * A mutation idempotent by itself whenever its input carries this field (a monotonic sequence number: a repeat with
   * the same or an older one changes nothing): such a call keeps no Idempotency-Key record. The gateway gives it no
   * key of its own, and a client's key is accepted but not recorded, so a repeat runs again (and changes nothing)
   * rather than replaying the first response; it saves the claim, the `applied` mark and the sealed response per call.
   * Without the field the call is an ordinary mutation. `domain()` checks that the input has the field.
   */
  idempotentBy?: string;
  /** Filled in by `domain()`. */
  service: string;
  name: string;
  /** Moleculer action name: `<service>.<name>`. */
  action: string;
}

type ContractDef<I extends z.ZodType, O extends z.ZodType, P extends Permission> = Omit<
  ProcedureContract<I, O, 'query' | 'mutation', P>,
  'kind' | 'service' | 'name' | 'action'
>;

export function query<I extends z.ZodType, O extends z.ZodType, const P extends Permission>(def: ContractDef<I, O, P>): ProcedureContract<I, O, 'query', P> {
  return { ...def, kind: 'query', service: '', name: '', action: '' };
}

export function mutation<I extends z.ZodType, O extends z.ZodType, const P extends Permission>(
  def: ContractDef<I, O, P>,
): ProcedureContract<I, O, 'mutation', P> {
  return { ...def, kind: 'mutation', service: '', name: '', action: '' };
}

export type AnyProcedure = ProcedureContract<z.ZodType, z.ZodType, 'query' | 'mutation', Permission>;

/** Procedures any caller may reach without signing in (public), or only other services (internal). */
export type CallerOptional = 'public' | 'internal';
export type DomainContracts = Record<string, AnyProcedure>;

/** Names a domain's procedures: the Moleculer service and action names come from here. */
export function domain<const S extends string, D extends DomainContracts>(service: S, procedures: D): D {
  for (const [name, c] of Object.entries(procedures)) {
    if (c.idempotentBy !== undefined && (c.kind !== 'mutation' || !(c.input instanceof z.ZodObject) || !(c.idempotentBy in c.input.shape))) {
      throw new Error(`${service}.${name}: idempotentBy names ${c.idempotentBy}, which is not a field of this mutation's input`);
    }
    c.service = service;
    c.name = name;
    c.action = `${service}.${name}`;
  }
  return procedures;
}

/** True when this call of `c` is idempotent by itself (its contract's `idempotentBy` field is in `input`): it keeps no Idempotency-Key record. */
export function idempotentByItself(c: AnyProcedure, input: unknown): boolean {
  if (c.idempotentBy === undefined || typeof input !== 'object' || input === null) return false;
  const v = (input as Record<string, unknown>)[c.idempotentBy];
  return v !== undefined && v !== null;
}

export type InputOf<C extends AnyProcedure> = z.input<C['input']>;
export type OutputOf<C extends AnyProcedure> = z.output<C['output']>;

// ---------------------------------------------------------------- events

export interface EventContract<P extends z.ZodType = z.ZodType> {
  /** JetStream subject, past tense and versioned: `lms.course.published.v1`. */
  subject: string;
  /** The stream that holds the subject: one per domain. */
  stream: string;
  version: number;
  payload: P;
  summary: string;
}

export function event<P extends z.ZodType>(def: EventContract<P>): EventContract<P> {
  return def;
}

export type PayloadOf<E extends EventContract> = z.output<E['payload']>;

/** What travels on the wire: the envelope every event has. */
export interface EventEnvelope<T = unknown> {
  id: string;
  subject: string;
  version: number;
  occurredAt: string;
  /** The aggregate the event is about, e.g. the course id. */
  key: string | null;
  requestId: string | null;
  payload: T;
}

// ---------------------------------------------------------------- errors

/** Every stable error code and its HTTP status. Clients switch on the code, never the message. */
export const errorCodes = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 422,
  IMAGE_TOO_LARGE: 422,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  TOKEN_INVALID: 401,
  OIDC_FAILED: 401,
  FORBIDDEN: 403,
  ACCOUNT_DEACTIVATED: 403,
  MFA_REQUIRED: 403,
  EMAIL_NOT_VERIFIED: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  COURSE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  EMAIL_TAKEN: 409,
  CONFLICT: 409,
  COURSE_ALREADY_PUBLISHED: 409,
  ENROLLMENT_CLOSED: 409,
  PREREQUISITES_NOT_MET: 409,
  LESSON_LOCKED: 409,
  /** A quiz or assignment lesson completes when its assessment is passed, not by marking it done. */
  LESSON_NEEDS_ASSESSMENT: 409,
  /** A repeat of an Idempotency-Key whose first request is still running (after waiting for it a moment). */
  IDEMPOTENCY_KEY_IN_USE: 409,
  /** The first request with this Idempotency-Key took effect but its response was lost (its node died in between). */
  IDEMPOTENCY_RESPONSE_LOST: 409,
  /** The Idempotency-Key was used before with another request (another operation or body). */
  IDEMPOTENCY_KEY_REUSED: 422,
  // Assessments, assignments, gradebook, credentials (issue 14)
  /** The quiz or assignment is not open yet, or has closed (its window, with the caller's extension). */
  ASSESSMENT_NOT_OPEN: 409,
  /** No attempts left under the quiz's attempt limit (with the caller's extra attempts). */
  ATTEMPT_LIMIT_REACHED: 409,
  /** The attempt was submitted already or its deadline passed: answers are no longer accepted. */
  ATTEMPT_CLOSED: 409,
  /** A quiz shown one question at a time: only the current question takes answers, and there is no going back. */
  QUESTION_NOT_CURRENT: 409,
  /** Past the assignment's cut-off date (or a resubmission the assignment does not allow). */
  SUBMISSION_CLOSED: 409,
  /** A released grade changes only with a reason (it is audited). */
  GRADE_RELEASED: 409,
  /** A group assignment, and the learner is in none of its groups: the staff must put them in one first. */
  NOT_IN_GROUP: 409,
  /** A question in use cannot be deleted or a quiz with attempts cannot change structure this way. */
  IN_USE: 409,
  /** A GIFT, QTI or CSV document that cannot be read; `details.errors` lists line/item and message. */
  IMPORT_INVALID: 422,
  /** A calculated question's formula or parameters are not valid. */
  FORMULA_INVALID: 422,
  /** A search query longer than the engine takes (contracts/src/search.ts, SEARCH_QUERY_MAX). */
  SEARCH_QUERY_TOO_LONG: 400,
  PAYLOAD_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HEADERS_TOO_LARGE: 431,
  PAYMENT_DECLINED: 402,
  RATE_LIMITED: 429,
  /** Too many AI requests this minute (LLM_REQUESTS_PER_MINUTE); `details.retryAfterSeconds` says when to try again. */
  LLM_RATE_LIMITED: 429,
  /** The caller's AI tokens for today (UTC) are used up (LLM_TOKENS_PER_DAY); `details.retryAfterSeconds` until midnight. */
  LLM_DAILY_TOKENS_EXHAUSTED: 429,
  /** AI features are switched off for this installation (LLM_ENABLED=false). */
  AI_DISABLED: 403,
  /** No model server (Ollama) answers, or the worker's circuit breaker is open; `details.retryAfterSeconds`. */
  LLM_UNAVAILABLE: 503,
  /** Neither the task's model nor its fallback is on the model server (`ollama pull` it). */
  LLM_MODEL_MISSING: 503,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;
export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCodes, code);
}

/** The one error class domain code throws. `details` must be safe to show a caller. */
export class DomainError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = errorCodes[code];
  }
}

/** The body of every REST error response, and the `data` of every tRPC error. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable code, e.g. COURSE_NOT_FOUND' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
      requestId: z.string(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBody>;

/** A validation issue as it appears in `details.issues`. */
export interface FieldIssue {
  path: string;
  message: string;
  code: string;
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(root)',
    message: i.message,
    code: i.code,
  }));
}

/**
 * Where an input holds U+0000 (PostgreSQL refuses it in text and JSON): one check for every input, whatever
 * its schema, so no field needs its own refinement. Strings and object keys at any depth; iterative, so
 * deep nesting cannot overflow the stack; the path is built only for a string that fails.
 */
export function nulIssues(input: unknown, max = 10): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const nodes: Array<{ value: unknown; key: string; parent: number }> = [{ value: input, key: '', parent: -1 }];
  const pathOf = (i: number, last?: string) => {
    const parts = last === undefined ? [] : [last];
    for (let n = i; n > 0; n = nodes[n]?.parent ?? 0) parts.push(nodes[n]?.key ?? '');
    return parts.reverse().join('.') || '(root)';
  };
  const refuse = (path: string) => issues.push({ path, message: 'must not contain the NUL character (U+0000)', code: 'invalid_format' });
  for (let i = 0; i < nodes.length && issues.length < max; i++) {
    const { value } = nodes[i] ?? {};
    if (typeof value === 'string') {
      if (value.includes('\u0000')) refuse(pathOf(i));
    } else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\u0000')) refuse(pathOf(i, key));
        nodes.push({ value: child, key, parent: i });
      }
    }
  }
  return issues;
}

// ---------------------------------------------------------------- shared schemas

export const uuid = z.uuid();
export const isoDate = z.iso.datetime({ offset: true });

export const pageInput = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().meta({ description: 'Opaque cursor from the previous page' }),
});

export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
