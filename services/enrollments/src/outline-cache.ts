import { coursesInternal } from '@lms/contracts';
import type { Call } from '@lms/runtime';
import type { Outline } from './progress.js';

/** How long a published outline is answered from the cache (a publish shows up within this). */
export const OUTLINE_TTL_MS = 5_000;
/** Courses whose outlines are kept (the oldest goes first). */
const MAX_COURSES = 10_000;

/**
 * Published outlines (coursesInternal.publishedOutline), cached briefly per course. `get` may call the courses
 * service: never inside a unit of work (the runtime refuses a call there). `last` never calls anything: it answers
 * the outline `get` last read for the course, whatever its age, for code in a transaction that read it just before.
 */
export class OutlineCache {
  private readonly outlines = new Map<string, { at: number; outline: Promise<Outline> }>();
  private readonly read = new Map<string, Outline>();

  get(call: Call, courseId: string): Promise<Outline> {
    const hit = this.outlines.get(courseId);
    if (hit && Date.now() - hit.at < OUTLINE_TTL_MS) return hit.outline;
    const outline = call(coursesInternal.publishedOutline, { courseId });
    this.outlines.set(courseId, { at: Date.now(), outline });
    outline.then(
      (o) => bounded(this.read, courseId, o),
      () => this.outlines.get(courseId)?.outline === outline && this.outlines.delete(courseId), // a failed read is not cached (the caller sees the failure)
    );
    bounded(this.outlines, courseId, this.outlines.get(courseId));
    return outline;
  }

  /** The outline `get` last read for the course (no call); undefined when none was read in this process yet. */
  last(courseId: string): Outline | undefined {
    return this.read.get(courseId);
  }
}

/** Sets `key` (newest last) and drops the oldest entry past MAX_COURSES. */
function bounded<V>(map: Map<string, V>, key: string, value: V | undefined): void {
  if (value === undefined) return;
  map.delete(key);
  map.set(key, value);
  const oldest = map.keys().next();
  if (map.size > MAX_COURSES && !oldest.done) map.delete(oldest.value);
}
