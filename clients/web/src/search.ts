// Search-parameter helpers shared by the routes (kept apart from router.tsx so that pages can import them).
import type { Course } from '@lms/contracts';

export type CourseLevel = Course['level'];
export const courseLevels: readonly CourseLevel[] = ['beginner', 'intermediate', 'advanced', 'all'];

/** A non-empty string search parameter, else undefined. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : undefined);

/** Where to go after signing in: a path on this site only (never `//host` or a full URL). */
export function safeRedirect(to: unknown): string | undefined {
  return typeof to === 'string' && to.startsWith('/') && !to.startsWith('//') && !to.startsWith('/\\') ? to : undefined;
}
