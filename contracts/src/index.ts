import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from '@trpc/server';
import type { z } from 'zod';
import { analytics } from './analytics.js';
import { assessments } from './assessments.js';
import { attempts } from './attempts.js';
import { assignments } from './assignments.js';
import { audit } from './audit.js';
import { auth, authEvents } from './auth.js';
import type { AnyProcedure, DomainContracts, ErrorCode, EventContract, ProcedureContract } from './core.js';
import { courseEvents, courses, coursesInternal } from './courses.js';
import { credentials } from './credentials.js';
import { enrollmentEvents, enrollments } from './enrollments.js';
import { fileEvents, files, filesInternal } from './files.js';
import { grades } from './grades.js';
import { llm, llmWorkerInternal } from './llm.js';
import {
  assessmentEvents,
  assessmentsInternal,
  attemptsInternal,
  assignmentsInternal,
  credentialEvents,
  credentialsInternal,
  gradeEvents,
  gradesInternal,
} from './grading.js';
import { notificationEvents, notifications } from './notifications.js';
import { erasureReceipts, privacyEvents } from './privacy.js';
import { search, searchEvents, searchInternal } from './search.js';
import { userEvents, users, usersInternal } from './users.js';

export * from './core.js';
export * from './auth.js';
export * from './users.js';
export * from './courses.js';
export * from './analytics.js';
export * from './audit.js';
export * from './notifications.js';
export * from './privacy.js';
export * from './enrollments.js';
export * from './files.js';
export * from './questions.js';
export * from './grading.js';
export * from './assessments.js';
export * from './attempts.js';
export * from './search.js';

/** Every procedure the edges expose, by domain. Adding one here is all it takes to publish it. */
export const catalogue = {
  auth,
  users,
  courses,
  enrollments,
  files,
  notifications,
  analytics,
  audit,
  assessments,
  attempts,
  assignments,
  credentials,
  grades,
  search,
  llm,
} as const;
export type Catalogue = typeof catalogue;

/** Procedures only services call each other with. */
export const internalCatalogue = {
  users: usersInternal,
  courses: coursesInternal,
  files: filesInternal,
  assessments: assessmentsInternal,
  attempts: attemptsInternal,
  assignments: assignmentsInternal,
  credentials: credentialsInternal,
  grades: gradesInternal,
  search: searchInternal,
  'llm-worker': llmWorkerInternal,
} as const;
export * from './llm.js';
export * from './assignments.js';
export * from './credentials.js';
export * from './grades.js';

/** Every event, by domain: the event registry. */
export const events = {
  auth: authEvents,
  course: courseEvents,
  user: userEvents,
  notification: notificationEvents,
  privacy: { ...privacyEvents, ...erasureReceipts },
  enrollment: enrollmentEvents,
  file: fileEvents,
  assessment: assessmentEvents,
  grade: gradeEvents,
  credential: credentialEvents,
  search: searchEvents,
} as const satisfies Record<string, Record<string, EventContract>>;

export function allProcedures(): AnyProcedure[] {
  return Object.values(catalogue).flatMap((d: DomainContracts) => Object.values(d));
}
export function allEvents(): EventContract[] {
  return Object.values(events).flatMap((d: Record<string, EventContract>) => Object.values(d));
}

/** tRPC's error `data` on every error the gateway returns. */
export interface LmsErrorData {
  // Any string, with the known codes offered first (`string & {}` keeps the union from collapsing to `string`).
  code: ErrorCode | (string & {});
  httpStatus: number;
  details?: Record<string, unknown>;
  requestId: string;
  path?: string;
}
export interface LmsErrorShape {
  message: string;
  code: number;
  data: LmsErrorData;
}

interface RootTypes {
  ctx: object;
  meta: object;
  errorShape: LmsErrorShape;
  transformer: false;
}

type ProcedureOf<C> =
  C extends ProcedureContract<infer I, infer O, infer K>
    ? K extends 'query'
      ? TRPCQueryProcedure<{ input: z.input<I>; output: z.output<O>; meta: object }>
      : TRPCMutationProcedure<{ input: z.input<I>; output: z.output<O>; meta: object }>
    : never;

type RecordOf<C extends Record<string, DomainContracts>> = {
  [D in keyof C]: { [P in keyof C[D]]: ProcedureOf<C[D][P]> };
};

/** The tRPC router type, derived from the contracts alone: clients `import type` it. */
export type AppRouter = TRPCBuiltRouter<RootTypes, RecordOf<Catalogue>>;
