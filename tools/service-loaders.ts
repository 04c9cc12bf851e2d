/**
 * The services by name, each loaded only when a node runs it: `lms node --services courses` then loads neither
 * the gateway's HTTP stack nor auth's password hashing, OIDC and mail libraries. tools/services.ts holds the same
 * services loaded eagerly, for tests and tools; a test keeps the two lists equal.
 */
import type { ServiceModule } from '@lms/runtime';

export const SERVICE_LOADERS: Record<string, () => Promise<ServiceModule>> = {
  gateway: async () => (await import('@lms/gateway')).gatewayService,
  auth: async () => (await import('@lms/auth')).authService,
  users: async () => (await import('@lms/users')).usersService,
  courses: async () => (await import('@lms/courses')).coursesService,
  enrollments: async () => (await import('@lms/enrollments')).enrollmentsService,
  files: async () => (await import('@lms/files')).filesService,
  analytics: async () => (await import('@lms/analytics')).analyticsService,
  audit: async () => (await import('@lms/audit')).auditService,
  notifications: async () => (await import('@lms/notifications')).notificationsService,
  assessments: async () => (await import('@lms/assessments')).assessmentsService,
  attempts: async () => (await import('@lms/attempts')).attemptsService,
  assignments: async () => (await import('@lms/assignments')).assignmentsService,
  credentials: async () => (await import('@lms/credentials')).credentialsService,
  grades: async () => (await import('@lms/grades')).gradesService,
  search: async () => (await import('@lms/search')).searchService,
  llm: async () => (await import('@lms/llm')).llmService,
  'llm-worker': async () => (await import('@lms/llm-worker')).llmWorkerService,
};

/**
 * What embedded mode (`lms start`) runs: every service, but the llm worker only with an Ollama to drive (OLLAMA_URL);
 * without one the LMS runs with AI answering LLM_UNAVAILABLE rather than a worker that refuses everything.
 */
export function embeddedServiceNames(environment: Record<string, string | undefined>): string {
  return Object.keys(SERVICE_LOADERS)
    .filter((n) => n !== 'llm-worker' || Boolean(environment.OLLAMA_URL))
    .join(',');
}

/** The named services ("all" for every one), loaded; an unknown name fails before anything loads. */
export async function loadServices(names: string): Promise<ServiceModule[]> {
  const list =
    names === 'all'
      ? Object.keys(SERVICE_LOADERS)
      : names
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const loaders = list.map((n) => {
    const load = SERVICE_LOADERS[n];
    if (!load) throw new Error(`unknown service "${n}"; known: ${Object.keys(SERVICE_LOADERS).join(', ')}`);
    return load;
  });
  return Promise.all(loaders.map((load) => load()));
}
