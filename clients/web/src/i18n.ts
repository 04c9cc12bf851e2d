// Messages in English and French. The locale is the profile's (users.me), else the browser's, else English; a
// person's pick in the header is kept in localStorage and, when signed in, saved to the profile.
import type { ErrorCode } from '@lms/contracts';
import { createContext, useContext, useMemo } from 'react';

export type Locale = 'en' | 'fr';
export const LOCALES: readonly Locale[] = ['en', 'fr'];

const en = {
  appName: 'LMS',
  skipToContent: 'Skip to content',
  navCatalogue: 'Catalogue',
  navDashboard: 'My learning',
  navTeaching: 'Teaching',
  navSignIn: 'Sign in',
  navSignUp: 'Sign up',
  navSignOut: 'Sign out',
  mainNav: 'Main',
  language: 'Language',
  themeDark: 'Dark theme',
  loading: 'Loading…',
  retry: 'Try again',
  notFoundTitle: 'Page not found',
  notFoundBody: 'There is nothing at this address.',
  catalogueTitle: 'Course catalogue',
  catalogueSearch: 'Search courses',
  catalogueLevel: 'Level',
  catalogueLanguage: 'Language of the course',
  catalogueSort: 'Sort by',
  sortNewest: 'Newest',
  sortTitle: 'Title',
  anyLevel: 'Any level',
  anyLanguage: 'Any language',
  levelBeginner: 'Beginner',
  levelIntermediate: 'Intermediate',
  levelAdvanced: 'Advanced',
  levelAll: 'All levels',
  noCourses: 'No course matches.',
  loadMore: 'More courses',
  minutes: '{n} min',
  courseBack: 'Back to the catalogue',
  courseEnrol: 'Enrol',
  courseEnrolling: 'Enrolling…',
  courseSignInToEnrol: 'Sign in to enrol',
  courseSignInToSee: 'Sign in to see this course and enrol.',
  courseContinue: 'Go to the course',
  courseEnrolled: 'You are enrolled.',
  courseWaitlisted: 'You are on the waiting list (position {n}).',
  coursePending: 'Your enrolment is being processed.',
  courseCompleted: 'You completed this course.',
  dashboardTitle: 'My learning',
  dashboardEmpty: 'You are not enrolled in any course yet.',
  dashboardBrowse: 'Browse the catalogue',
  dashboardNext: 'Next: {title}',
  dashboardResume: 'Continue',
  progressLabel: 'Progress',
  statusActive: 'In progress',
  statusCompleted: 'Completed',
  statusPending: 'Pending',
  statusWaitlisted: 'Waiting list',
  statusDropped: 'Left',
  statusFailed: 'Failed',
  playerOutline: 'Course outline',
  playerLocked: 'locked',
  playerDone: 'done',
  playerMarkComplete: 'Mark as complete',
  playerCompleted: 'Completed',
  playerNext: 'Next lesson',
  playerAllDone: 'You have completed every lesson of this course.',
  playerPickLesson: 'Choose a lesson in the outline.',
  playerUnsupported: 'This kind of lesson cannot be shown in the web app yet.',
  playerOpenLink: 'Open the link',
  playerLockedBody: 'This lesson is locked: complete the earlier modules first.',
  playerNotEnrolled: 'Enrol in this course to follow its lessons.',
  signInTitle: 'Sign in',
  signUpTitle: 'Create an account',
  email: 'Email',
  password: 'Password',
  displayName: 'Name',
  passwordHint: 'At least 10 characters.',
  signInSubmit: 'Sign in',
  signUpSubmit: 'Create account',
  noAccount: 'No account yet?',
  haveAccount: 'Already have an account?',
  mfaTitle: 'Two-step sign-in',
  mfaCode: 'Code from your authenticator app',
  mfaSubmit: 'Verify',
  mfaWrongCode: 'This code is not right. Enter the current code from your app.',
  sessionExpired: 'Your session ended. Sign in again to continue.',
  required: 'Required.',
  errorUnknown: 'Something went wrong. Try again.',
  errorNetwork: 'The server cannot be reached. Check your connection and try again.',
  navNotifications: 'Notifications',
  navSettings: 'Settings',
  forgotLink: 'Forgot your password?',
  navCertificates: 'Certificates',
  playerTakeQuiz: 'Open the quiz',
  playerGrades: 'My grades',
  searchSite: 'Site search',
  searchLabel: 'Search',
  searchPlaceholder: 'Search courses and lessons',
  searchSuggestions: 'Suggestions',
  searchSubmit: 'Search',
  typeCourse: 'Course',
  typeModule: 'Module',
  typeLesson: 'Lesson',
  typeFile: 'File',
};
export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const fr: Messages = {
  appName: 'LMS',
  skipToContent: 'Aller au contenu',
  navCatalogue: 'Catalogue',
  navDashboard: 'Mes formations',
  navTeaching: 'Enseigner',
  navSignIn: 'Se connecter',
  navSignUp: 'Créer un compte',
  navSignOut: 'Se déconnecter',
  mainNav: 'Principale',
  language: 'Langue',
  themeDark: 'Thème sombre',
  loading: 'Chargement…',
  retry: 'Réessayer',
  notFoundTitle: 'Page introuvable',
  notFoundBody: 'Il n’y a rien à cette adresse.',
  catalogueTitle: 'Catalogue des cours',
  catalogueSearch: 'Rechercher un cours',
  catalogueLevel: 'Niveau',
  catalogueLanguage: 'Langue du cours',
  catalogueSort: 'Trier par',
  sortNewest: 'Plus récents',
  sortTitle: 'Titre',
  anyLevel: 'Tous niveaux',
  anyLanguage: 'Toutes langues',
  levelBeginner: 'Débutant',
  levelIntermediate: 'Intermédiaire',
  levelAdvanced: 'Avancé',
  levelAll: 'Tous niveaux',
  noCourses: 'Aucun cours ne correspond.',
  loadMore: 'Plus de cours',
  minutes: '{n} min',
  courseBack: 'Retour au catalogue',
  courseEnrol: 'S’inscrire',
  courseEnrolling: 'Inscription…',
  courseSignInToEnrol: 'Se connecter pour s’inscrire',
  courseSignInToSee: 'Connectez-vous pour voir ce cours et vous y inscrire.',
  courseContinue: 'Aller au cours',
  courseEnrolled: 'Vous êtes inscrit·e.',
  courseWaitlisted: 'Vous êtes sur la liste d’attente (position {n}).',
  coursePending: 'Votre inscription est en cours de traitement.',
  courseCompleted: 'Vous avez terminé ce cours.',
  dashboardTitle: 'Mes formations',
  dashboardEmpty: 'Vous n’êtes inscrit·e à aucun cours pour l’instant.',
  dashboardBrowse: 'Parcourir le catalogue',
  dashboardNext: 'Suite : {title}',
  dashboardResume: 'Continuer',
  progressLabel: 'Progression',
  statusActive: 'En cours',
  statusCompleted: 'Terminé',
  statusPending: 'En attente',
  statusWaitlisted: 'Liste d’attente',
  statusDropped: 'Abandonné',
  statusFailed: 'Échoué',
  playerOutline: 'Plan du cours',
  playerLocked: 'verrouillé',
  playerDone: 'terminé',
  playerMarkComplete: 'Marquer comme terminé',
  playerCompleted: 'Terminé',
  playerNext: 'Leçon suivante',
  playerAllDone: 'Vous avez terminé toutes les leçons de ce cours.',
  playerPickLesson: 'Choisissez une leçon dans le plan.',
  playerUnsupported: 'Ce type de leçon ne peut pas encore être affiché dans l’application web.',
  playerOpenLink: 'Ouvrir le lien',
  playerLockedBody: 'Cette leçon est verrouillée : terminez d’abord les modules précédents.',
  playerNotEnrolled: 'Inscrivez-vous à ce cours pour suivre ses leçons.',
  signInTitle: 'Connexion',
  signUpTitle: 'Créer un compte',
  email: 'Adresse e-mail',
  password: 'Mot de passe',
  displayName: 'Nom',
  passwordHint: 'Au moins 10 caractères.',
  signInSubmit: 'Se connecter',
  signUpSubmit: 'Créer le compte',
  noAccount: 'Pas encore de compte ?',
  haveAccount: 'Vous avez déjà un compte ?',
  mfaTitle: 'Connexion en deux étapes',
  mfaCode: 'Code de votre application d’authentification',
  mfaSubmit: 'Vérifier',
  mfaWrongCode: 'Ce code n’est pas le bon. Saisissez le code actuel de votre application.',
  sessionExpired: 'Votre session a pris fin. Reconnectez-vous pour continuer.',
  required: 'Obligatoire.',
  errorUnknown: 'Une erreur est survenue. Réessayez.',
  errorNetwork: 'Le serveur est injoignable. Vérifiez votre connexion et réessayez.',
  navNotifications: 'Notifications',
  navSettings: 'Paramètres',
  forgotLink: 'Mot de passe oublié ?',
  navCertificates: 'Certificats',
  playerTakeQuiz: 'Ouvrir le quiz',
  playerGrades: 'Mes notes',
  searchSite: 'Recherche sur le site',
  searchLabel: 'Rechercher',
  searchPlaceholder: 'Rechercher des cours et des leçons',
  searchSuggestions: 'Suggestions',
  searchSubmit: 'Rechercher',
  typeCourse: 'Cours',
  typeModule: 'Module',
  typeLesson: 'Leçon',
  typeFile: 'Fichier',
};

/** Every stable error code of the API, in people's words. A new code in contracts/src/core.ts fails the type check here. */
type ErrorMessages = Record<ErrorCode, string>;
const errorsEn: ErrorMessages = {
  BAD_REQUEST: 'The request was not understood.',
  VALIDATION_FAILED: 'Some fields are not valid.',
  IMAGE_TOO_LARGE: 'The image is too large.',
  UNAUTHENTICATED: 'Sign in to continue.',
  INVALID_CREDENTIALS: 'The email or password is wrong.',
  TOKEN_INVALID: 'This link or code has expired or is not valid.',
  OIDC_FAILED: 'Signing in with the identity provider failed.',
  FORBIDDEN: 'You are not allowed to do this.',
  ACCOUNT_DEACTIVATED: 'This account is deactivated.',
  MFA_REQUIRED: 'Two-step sign-in is required for this.',
  EMAIL_NOT_VERIFIED: 'Verify your email address first.',
  NOT_FOUND: 'Not found.',
  ROUTE_NOT_FOUND: 'Not found.',
  USER_NOT_FOUND: 'No such user.',
  COURSE_NOT_FOUND: 'This course does not exist or is not available to you.',
  METHOD_NOT_ALLOWED: 'This action is not allowed here.',
  EMAIL_TAKEN: 'An account already uses this email.',
  CONFLICT: 'This conflicts with the current state. Reload and try again.',
  COURSE_ALREADY_PUBLISHED: 'This course is already published.',
  ENROLLMENT_CLOSED: 'Enrolment in this course is closed.',
  PREREQUISITES_NOT_MET: 'Complete the prerequisite courses first.',
  LESSON_LOCKED: 'This lesson is locked: complete the earlier modules first.',
  LESSON_NEEDS_ASSESSMENT: 'This lesson completes when you pass its assessment.',
  IDEMPOTENCY_KEY_IN_USE: 'The same request is still being processed.',
  IDEMPOTENCY_RESPONSE_LOST: 'The request went through but its answer was lost. Reload to see the result.',
  IDEMPOTENCY_KEY_REUSED: 'This request was already used for something else.',
  ASSESSMENT_NOT_OPEN: 'This assessment is not open.',
  ATTEMPT_LIMIT_REACHED: 'You have no attempts left.',
  ATTEMPT_CLOSED: 'This attempt is closed.',
  QUESTION_NOT_CURRENT: 'This quiz shows one question at a time: answer the current one.',
  SUBMISSION_CLOSED: 'Submissions are closed.',
  GRADE_RELEASED: 'This grade is released; changing it needs a reason.',
  NOT_IN_GROUP: 'This is a group assignment and you are not in a group yet. Ask your teacher to add you to one.',
  IN_USE: 'This is in use and cannot be changed this way.',
  IMPORT_INVALID: 'The file could not be read.',
  FORMULA_INVALID: 'The formula is not valid.',
  PAYLOAD_TOO_LARGE: 'This is too large.',
  QUOTA_EXCEEDED: 'The storage quota is exceeded.',
  UNSUPPORTED_MEDIA_TYPE: 'This file type is not supported.',
  HEADERS_TOO_LARGE: 'The request is too large.',
  PAYMENT_DECLINED: 'The payment was declined.',
  RATE_LIMITED: 'Too many attempts. Wait a minute and try again.',
  LLM_RATE_LIMITED: 'Too many AI requests. Wait a moment and try again.',
  LLM_DAILY_TOKENS_EXHAUSTED: 'You have used today’s AI allowance. It renews at midnight (UTC).',
  AI_DISABLED: 'AI features are switched off here.',
  LLM_UNAVAILABLE: 'The AI assistant is unavailable for a moment. Try again shortly.',
  LLM_MODEL_MISSING: 'The AI model is not installed on the server yet.',
  INTERNAL: 'Something went wrong on our side. Try again.',
  SERVICE_UNAVAILABLE: 'The service is unavailable for a moment. Try again shortly.',
  TIMEOUT: 'The server took too long to answer. Try again.',
  SEARCH_QUERY_TOO_LONG: 'That search is too long. Use fewer words.',
};
const errorsFr: ErrorMessages = {
  BAD_REQUEST: 'La requête n’a pas été comprise.',
  VALIDATION_FAILED: 'Certains champs ne sont pas valides.',
  IMAGE_TOO_LARGE: 'L’image est trop grande.',
  UNAUTHENTICATED: 'Connectez-vous pour continuer.',
  INVALID_CREDENTIALS: 'L’adresse e-mail ou le mot de passe est incorrect.',
  TOKEN_INVALID: 'Ce lien ou ce code a expiré ou n’est pas valide.',
  OIDC_FAILED: 'La connexion avec le fournisseur d’identité a échoué.',
  FORBIDDEN: 'Vous n’avez pas le droit de faire cela.',
  ACCOUNT_DEACTIVATED: 'Ce compte est désactivé.',
  MFA_REQUIRED: 'La connexion en deux étapes est requise pour cela.',
  EMAIL_NOT_VERIFIED: 'Vérifiez d’abord votre adresse e-mail.',
  NOT_FOUND: 'Introuvable.',
  ROUTE_NOT_FOUND: 'Introuvable.',
  USER_NOT_FOUND: 'Utilisateur introuvable.',
  COURSE_NOT_FOUND: 'Ce cours n’existe pas ou ne vous est pas accessible.',
  METHOD_NOT_ALLOWED: 'Cette action n’est pas permise ici.',
  EMAIL_TAKEN: 'Un compte utilise déjà cette adresse e-mail.',
  CONFLICT: 'Cela entre en conflit avec l’état actuel. Rechargez et réessayez.',
  COURSE_ALREADY_PUBLISHED: 'Ce cours est déjà publié.',
  ENROLLMENT_CLOSED: 'Les inscriptions à ce cours sont closes.',
  PREREQUISITES_NOT_MET: 'Terminez d’abord les cours prérequis.',
  LESSON_LOCKED: 'Cette leçon est verrouillée : terminez d’abord les modules précédents.',
  LESSON_NEEDS_ASSESSMENT: 'Cette leçon se termine quand vous réussissez son évaluation.',
  IDEMPOTENCY_KEY_IN_USE: 'La même requête est encore en cours de traitement.',
  IDEMPOTENCY_RESPONSE_LOST: 'La requête a abouti mais sa réponse s’est perdue. Rechargez pour voir le résultat.',
  IDEMPOTENCY_KEY_REUSED: 'Cette requête a déjà servi pour autre chose.',
  ASSESSMENT_NOT_OPEN: 'Cette évaluation n’est pas ouverte.',
  ATTEMPT_LIMIT_REACHED: 'Vous n’avez plus de tentative.',
  ATTEMPT_CLOSED: 'Cette tentative est close.',
  QUESTION_NOT_CURRENT: 'Ce quiz montre une question à la fois : répondez à la question en cours.',
  SUBMISSION_CLOSED: 'Les remises sont closes.',
  GRADE_RELEASED: 'Cette note est publiée ; la modifier demande un motif.',
  NOT_IN_GROUP: 'Ce devoir se rend en groupe et vous n’êtes encore dans aucun groupe. Demandez à votre enseignant de vous en attribuer un.',
  IN_USE: 'Cet élément est utilisé et ne peut pas être modifié ainsi.',
  IMPORT_INVALID: 'Le fichier n’a pas pu être lu.',
  FORMULA_INVALID: 'La formule n’est pas valide.',
  PAYLOAD_TOO_LARGE: 'C’est trop volumineux.',
  QUOTA_EXCEEDED: 'Le quota de stockage est dépassé.',
  UNSUPPORTED_MEDIA_TYPE: 'Ce type de fichier n’est pas pris en charge.',
  HEADERS_TOO_LARGE: 'La requête est trop volumineuse.',
  PAYMENT_DECLINED: 'Le paiement a été refusé.',
  RATE_LIMITED: 'Trop de tentatives. Attendez une minute et réessayez.',
  LLM_RATE_LIMITED: 'Trop de requêtes IA. Patientez un instant et réessayez.',
  LLM_DAILY_TOKENS_EXHAUSTED: 'Vous avez utilisé votre quota IA du jour. Il se renouvelle à minuit (UTC).',
  AI_DISABLED: 'Les fonctions d’IA sont désactivées ici.',
  LLM_UNAVAILABLE: 'L’assistant IA est momentanément indisponible. Réessayez dans un instant.',
  LLM_MODEL_MISSING: 'Le modèle d’IA n’est pas encore installé sur le serveur.',
  INTERNAL: 'Une erreur est survenue de notre côté. Réessayez.',
  SERVICE_UNAVAILABLE: 'Le service est momentanément indisponible. Réessayez bientôt.',
  TIMEOUT: 'Le serveur a mis trop de temps à répondre. Réessayez.',
  SEARCH_QUERY_TOO_LONG: 'Cette recherche est trop longue. Utilisez moins de mots.',
};

const catalogues: Record<Locale, { messages: Messages; errors: ErrorMessages }> = {
  en: { messages: en, errors: errorsEn },
  fr: { messages: fr, errors: errorsFr },
};

/** The supported locale closest to a BCP 47 tag (fr-CA → fr), or undefined. */
export function supportedLocale(tag: string | undefined | null): Locale | undefined {
  const base = tag?.toLowerCase().split('-')[0];
  return LOCALES.find((l) => l === base);
}

/** The locale to start with: what the person picked here, else the browser's languages, else English. */
export function initialLocale(): Locale {
  const picked = supportedLocale(localStorage.getItem('lms.locale'));
  if (picked) return picked;
  for (const l of navigator.languages ?? [navigator.language]) {
    const s = supportedLocale(l);
    if (s) return s;
  }
  return 'en';
}

export interface I18n {
  locale: Locale;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  /** An API error code in people's words (undefined when the code is not one of the API's). */
  errorMessage: (code: string | undefined) => string | undefined;
  setLocale: (l: Locale) => void;
}

/** A message with its `{name}` placeholders filled (a missing value is left empty). */
export function fill(template: string, vars?: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(vars?.[k] ?? ''));
}

export function makeI18n(locale: Locale, setLocale: (l: Locale) => void): I18n {
  const { messages, errors } = catalogues[locale];
  return {
    locale,
    setLocale,
    t: (key, vars) => fill(messages[key], vars),
    errorMessage: (code) => (code && Object.hasOwn(errors, code) ? errors[code as ErrorCode] : undefined),
  };
}

export const I18nContext = createContext<I18n>(makeI18n('en', () => {}));
export const useI18n = () => useContext(I18nContext);

/** The app's i18n whose `t` also knows a page's own messages `K` (kept beside the lazily loaded page, out of the initial bundle). */
export interface PageI18n<K extends string> extends Omit<I18n, 't'> {
  t: (key: K | MessageKey, vars?: Record<string, string | number>) => string;
}

export function usePageI18n<K extends string>(tables: Record<Locale, Record<K, string>>): PageI18n<K> {
  const i18n = useI18n();
  return useMemo(() => {
    const table: Record<string, string> = tables[i18n.locale];
    return { ...i18n, t: (key, vars) => (Object.hasOwn(table, key) ? fill(table[key] ?? '', vars) : i18n.t(key as MessageKey, vars)) };
  }, [i18n, tables]);
}
