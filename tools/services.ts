import { analyticsService } from '@lms/analytics';
import { assessmentsService } from '@lms/assessments';
import { attemptsService } from '@lms/attempts';
import { assignmentsService } from '@lms/assignments';
import { auditService } from '@lms/audit';
import { authService } from '@lms/auth';
import { coursesService } from '@lms/courses';
import { credentialsService } from '@lms/credentials';
import { enrollmentsService } from '@lms/enrollments';
import { filesService } from '@lms/files';
import { gatewayService } from '@lms/gateway';
import { gradesService } from '@lms/grades';
import { llmService } from '@lms/llm';
import { llmWorkerService } from '@lms/llm-worker';
import type { ServiceModule } from '@lms/runtime';
import { notificationsService } from '@lms/notifications';
import { searchService } from '@lms/search';
import { usersService } from '@lms/users';

/** Every service this codebase can run, by name. */
export const SERVICES: Record<string, ServiceModule> = {
  gateway: gatewayService,
  auth: authService,
  users: usersService,
  courses: coursesService,
  enrollments: enrollmentsService,
  files: filesService,
  analytics: analyticsService,
  audit: auditService,
  notifications: notificationsService,
  assessments: assessmentsService,
  attempts: attemptsService,
  assignments: assignmentsService,
  credentials: credentialsService,
  grades: gradesService,
  search: searchService,
  llm: llmService,
  'llm-worker': llmWorkerService,
};

export function pick(names: string): ServiceModule[] {
  const list =
    names === 'all'
      ? Object.keys(SERVICES)
      : names
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  return list.map((n) => {
    const s = SERVICES[n];
    if (!s) throw new Error(`unknown service "${n}"; known: ${Object.keys(SERVICES).join(', ')}`);
    return s;
  });
}
