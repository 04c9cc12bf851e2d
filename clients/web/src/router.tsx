// The routes. The catalogue (the first page most people see) is in the initial bundle; every other page is loaded
// when first visited. Pages that need a session send the person to sign in, then back where they were.
import { createRootRoute, createRoute, createRouter, lazyRouteComponent, redirect } from '@tanstack/react-router';
import { App, NotFound } from './app.tsx';
import { Catalogue } from './routes/catalogue.tsx';
import { sessionStore } from './session.ts';
import { courseLevels, safeRedirect, str, type CourseLevel } from './search.ts';

const rootRoute = createRootRoute({ component: App, notFoundComponent: NotFound });

const requireSession = ({ location }: { location: { href: string } }) => {
  // TanStack Router's idiom: a thrown redirect (not an Error) tells the router where to go instead.
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  if (!sessionStore.get()) throw redirect({ to: '/signin', search: { redirect: location.href } });
};

export interface CatalogueSearch {
  q?: string;
  level?: CourseLevel;
  language?: string;
  sort?: 'title';
}

const catalogueRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  validateSearch: (s: Record<string, unknown>): CatalogueSearch => ({
    q: str(s.q),
    level: courseLevels.find((l) => l === s.level),
    language: str(s.language),
    sort: s.sort === 'title' ? 'title' : undefined,
  }),
  component: Catalogue,
});

export interface SearchPageSearch {
  q?: string;
  type?: 'course' | 'module' | 'lesson' | 'file';
  category?: string;
  level?: CourseLevel;
  language?: string;
  /** Comma-separated: every tag must match. */
  tags?: string;
  sort?: 'newest' | 'popularity';
}
const docTypes = ['course', 'module', 'lesson', 'file'] as const;

const searchRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/search',
  validateSearch: (s: Record<string, unknown>): SearchPageSearch => ({
    q: str(s.q),
    type: docTypes.find((t) => t === s.type),
    category: str(s.category),
    level: courseLevels.find((l) => l === s.level),
    language: str(s.language),
    tags: str(s.tags),
    sort: s.sort === 'newest' || s.sort === 'popularity' ? s.sort : undefined,
  }),
  component: lazyRouteComponent(() => import('./routes/search.tsx'), 'SearchPage'),
});

const courseRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/courses/$courseId',
  component: lazyRouteComponent(() => import('./routes/course.tsx'), 'CoursePage'),
});

const playerRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/learn/$courseId',
  validateSearch: (s: Record<string, unknown>): { lesson?: string } => ({ lesson: str(s.lesson) }),
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/player.tsx'), 'Player'),
});

const dashboardRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/dashboard',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/dashboard.tsx'), 'Dashboard'),
});

export interface SignInSearch {
  redirect?: string;
  expired?: boolean;
}
const signInSearch = (s: Record<string, unknown>): SignInSearch => ({
  redirect: safeRedirect(s.redirect),
  expired: s.expired === true || s.expired === 'true' ? true : undefined,
});

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/signin',
  validateSearch: signInSearch,
  component: lazyRouteComponent(() => import('./routes/signin.tsx'), 'SignIn'),
});

const signUpRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/signup',
  validateSearch: signInSearch,
  component: lazyRouteComponent(() => import('./routes/signup.tsx'), 'SignUp'),
});

const settingsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/settings.tsx'), 'Settings'),
});

const notificationPrefsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings/notifications',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/notification-prefs.tsx'), 'NotificationPrefs'),
});

const inboxRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/notifications',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/inbox.tsx'), 'Inbox'),
});

// The links in the account emails (services/notifications/src/templates.ts): /verify-email?token=, /reset-password?token=.
const tokenSearch = (s: Record<string, unknown>): { token?: string } => ({ token: str(s.token) });

const verifyEmailRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/verify-email',
  validateSearch: tokenSearch,
  component: lazyRouteComponent(() => import('./routes/email-links.tsx'), 'VerifyEmail'),
});

const resetPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/reset-password',
  validateSearch: tokenSearch,
  component: lazyRouteComponent(() => import('./routes/email-links.tsx'), 'ResetPassword'),
});

const forgotPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/forgot-password',
  component: lazyRouteComponent(() => import('./routes/email-links.tsx'), 'ForgotPassword'),
});

// Instructor pages (teaching list, course editor, people): lazily loaded, with their own messages (routes/teach-i18n.ts).
const teachRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/teach',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/teaching.tsx'), 'Teaching'),
});

const teachCourseRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/teach/$courseId',
  validateSearch: (s: Record<string, unknown>): { lesson?: string } => ({ lesson: str(s.lesson) }),
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/course-editor.tsx'), 'CourseEditor'),
});

const teachPeopleRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/teach/$courseId/people',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/course-people.tsx'), 'CoursePeople'),
});

// The learner's assessment pages (routes/quiz.tsx, my-grades.tsx, certificates.tsx).
const quizRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/learn/$courseId/quiz/$quizId',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/quiz.tsx'), 'QuizPage'),
});

const attemptRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/attempts/$attemptId',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/quiz.tsx'), 'AttemptPage'),
});

const reviewRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/attempts/$attemptId/review',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/quiz.tsx'), 'ReviewPage'),
});

const myGradesRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/learn/$courseId/grades',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/my-grades.tsx'), 'MyGrades'),
});

const certificatesRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/certificates',
  beforeLoad: requireSession,
  component: lazyRouteComponent(() => import('./routes/certificates.tsx'), 'Certificates'),
});

const routeTree = rootRoute.addChildren([
  catalogueRoute,
  searchRoute,
  courseRoute,
  playerRoute,
  dashboardRoute,
  signInRoute,
  signUpRoute,
  settingsRoute,
  notificationPrefsRoute,
  inboxRoute,
  verifyEmailRoute,
  resetPasswordRoute,
  forgotPasswordRoute,
  teachRoute,
  teachCourseRoute,
  teachPeopleRoute,
  quizRoute,
  attemptRoute,
  reviewRoute,
  myGradesRoute,
  certificatesRoute,
]);

export const router = createRouter({ routeTree, defaultPreload: 'intent', scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
