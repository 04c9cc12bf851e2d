/**
 * The access matrix: every REST operation is tried anonymously, as a student, as an auditor, as a
 * teaching assistant of the owner's course and as a foreign instructor, against another user's resources. Any success where the matrix says "denied" fails the
 * test, and an operation missing from the matrix fails it too, so a new operation must be placed here.
 */
import { allProcedures, credentialsInternal, type AnyProcedure } from '@lms/contracts';
import { gatewayPort } from '@lms/gateway';
import { startNode, type LmsNode } from '@lms/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../services.ts';
import { defined, http, waitFor } from './support.ts';

type Actor = 'anon' | 'student' | 'foreign' | 'auditor' | 'ta';
interface Fixtures {
  ownerId: string;
  ownerSessionId: string;
  draftId: string;
  studentId: string;
  taId: string;
  exportId: string;
  moduleId: string;
  lessonId: string;
  publishedId: string;
  publishedLessonId: string;
  enrollmentId: string;
  fileId: string;
  notificationId: string;
  pushSubscriptionId: string;
  announcementId: string;
  assignmentId: string;
  submissionId: string;
  /** The file the admin (a learner of the published course) handed in with their submission. */
  workFileId: string;
  /** The owner's certificate of the published course. */
  credentialId: string;
  bankId: string;
  questionId: string;
  quizId: string;
  /** The admin's attempt (in progress) at a published quiz of the owner's published course, where the TA grades. */
  attemptId: string;
  gradeItemId: string;
  gradeCategoryId: string;
}
interface Rule {
  /** Who must be refused. */
  deny: Actor[];
  /** Of those, who may not even see the resource: they must get 404, never 403 (nothing learnt about it). */
  hidden?: Actor[];
  input?: (fx: Fixtures) => Record<string, unknown>;
}

const everyone: Actor[] = [];
const signedIn: Actor[] = ['anon'];
/** Global instructors and admins. */
const staff: Actor[] = ['anon', 'student', 'auditor', 'ta'];
const adminOnly: Actor[] = ['anon', 'student', 'foreign', 'auditor', 'ta'];
/** The owner's resources: everyone else but admins. */
const ownerOnly: Actor[] = ['anon', 'student', 'foreign', 'auditor', 'ta'];
/** The owner's draft course: its staff (the TA among them) may read it. */
const courseStaff: Actor[] = ['anon', 'student', 'foreign', 'auditor'];
/** Signed-in users who cannot see the owner's draft (nor its modules, lessons, roster, announcements): 404 for them. */
const strangers: Actor[] = ['student', 'foreign', 'auditor'];

const matrix: Record<string, Rule> = {
  'auth.register': { deny: everyone },
  'auth.login': { deny: everyone },
  'auth.refresh': { deny: everyone },
  'auth.jwks': { deny: everyone },
  'auth.logout': { deny: signedIn },
  'auth.sessions': { deny: signedIn },
  'auth.changePassword': { deny: signedIn, input: () => ({ currentPassword: 'idor matrix password', newPassword: 'another matrix secret' }) },
  'auth.revokeSession': { deny: ownerOnly, input: (fx) => ({ sessionId: fx.ownerSessionId }) },
  'auth.revokeAllSessions': { deny: signedIn },
  'auth.rotateKeys': { deny: adminOnly },
  'auth.userSessions': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'auth.revokeUserSessions': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'auth.verifyEmail': { deny: everyone },
  'auth.resendVerification': { deny: signedIn },
  'auth.forgotPassword': { deny: everyone },
  'auth.resetPassword': { deny: everyone },
  'auth.mfaVerify': { deny: everyone },
  'auth.oidcProviders': { deny: everyone },
  'auth.oidcStart': { deny: everyone, input: () => ({ provider: 'school' }) },
  'auth.oidcCallback': { deny: everyone, input: () => ({ provider: 'school', state: 'x', code: 'y' }) },
  'auth.mfaStatus': { deny: signedIn },
  'auth.mfaEnrol': { deny: signedIn, input: () => ({ password: 'idor matrix password' }) },
  'auth.mfaConfirm': { deny: signedIn, input: () => ({ code: '123456' }) },
  'auth.mfaDisable': { deny: signedIn, input: () => ({ password: 'idor matrix password', code: '123456' }) },
  'auth.mfaRecoveryCodes': { deny: signedIn, input: () => ({ code: '123456' }) },
  'users.me': { deny: signedIn },
  'users.updateMe': { deny: signedIn, input: () => ({ bio: 'x' }) },
  'users.notificationPreferences': { deny: signedIn },
  'users.setNotificationPreferences': { deny: signedIn, input: () => ({ types: { grades: { email: 'daily' } } }) },
  'users.requestExport': { deny: signedIn },
  // Only anonymous callers are tried here: a signed-in one would erase their own account.
  'users.requestErasure': { deny: signedIn, input: () => ({ confirm: 'ERASE' }) },
  'users.requestExportFor': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'users.requestErasureFor': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId, confirm: 'ERASE' }) },
  'users.privacyRequest': { deny: ownerOnly, input: (fx) => ({ requestId: fx.exportId }) },
  'users.downloadExport': { deny: ownerOnly, input: (fx) => ({ requestId: fx.exportId }) },
  'users.get': { deny: ownerOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'users.list': { deny: adminOnly },
  'users.grantRole': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId, role: 'admin' }) },
  'users.revokeRole': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId, role: 'instructor' }) },
  'users.deactivate': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'users.reactivate': { deny: adminOnly, input: (fx) => ({ userId: fx.ownerId }) },
  'courses.create': { deny: staff, input: () => ({ title: 'Not yours', category: 'x' }) },
  'courses.list': { deny: signedIn },
  'courses.get': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'courses.update': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, title: 'Hijacked' }) },
  'courses.publish': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'courses.members': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'courses.addMember': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, userId: fx.studentId, role: 'ta' }) },
  'courses.removeMember': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, userId: fx.taId }) },
  'courses.content': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, version: 'draft' }) },
  // The catalogue is how people find courses: anyone, signed in or not (public published courses only).
  'courses.catalog': { deny: everyone },
  'courses.createModule': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, title: 'Injected' }) },
  'courses.updateModule': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ moduleId: fx.moduleId, title: 'Renamed' }) },
  'courses.deleteModule': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ moduleId: fx.moduleId }) },
  'courses.createLesson': {
    deny: ownerOnly,
    hidden: strangers,
    input: (fx) => ({ moduleId: fx.moduleId, title: 'Injected', content: { type: 'markdown', body: 'x' } }),
  },
  'courses.updateLesson': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ lessonId: fx.lessonId, title: 'Renamed' }) },
  'courses.deleteLesson': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ lessonId: fx.lessonId }) },
  'courses.reorder': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, moduleId: fx.moduleId }) },
  'courses.submitForReview': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'courses.archive': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  // A draft cannot be enrolled in by anyone; the denied here must not even learn it exists.
  'enrollments.enrol': { deny: signedIn, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'enrollments.drop': { deny: signedIn, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'enrollments.bulkEnrol': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, csv: 'student@idor.test' }) },
  'enrollments.mine': { deny: signedIn },
  'enrollments.history': { deny: ['anon', 'student', 'foreign', 'auditor'], input: (fx) => ({ enrollmentId: fx.enrollmentId }) },
  'enrollments.roster': { deny: courseStaff, input: (fx) => ({ courseId: fx.publishedId }) },
  'enrollments.completeLesson': { deny: signedIn, input: (fx) => ({ lessonId: fx.publishedLessonId }) },
  'enrollments.progress': { deny: signedIn, input: (fx) => ({ courseId: fx.publishedId }) },
  'enrollments.dashboard': { deny: signedIn },
  'files.get': { deny: ownerOnly, input: (fx) => ({ fileId: fx.fileId }) },
  'files.delete': { deny: ownerOnly, input: (fx) => ({ fileId: fx.fileId }) },
  'files.signedUrl': { deny: ownerOnly, input: (fx) => ({ fileId: fx.fileId }) },
  'notifications.inbox': { deny: signedIn },
  'notifications.unsubscribe': { deny: everyone, input: () => ({ token: 'not.a.valid-token' }) },
  'notifications.markRead': { deny: ['anon', 'student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ notificationId: fx.notificationId }) },
  'notifications.markAllRead': { deny: signedIn },
  'notifications.deliveries': { deny: adminOnly },
  'notifications.retryDelivery': { deny: adminOnly, input: (fx) => ({ deliveryId: fx.notificationId }) },
  'notifications.pushKey': { deny: everyone },
  'notifications.subscribePush': { deny: signedIn, input: () => ({ endpoint: 'https://push.example.org/send/matrix', keys: pushKeys }) },
  'notifications.pushSubscriptions': { deny: signedIn },
  'notifications.unsubscribePush': { deny: ownerOnly, input: (fx) => ({ subscriptionId: fx.pushSubscriptionId }) },
  // The TA is on the draft's staff and may announce; learners and strangers may not, nor see progress.
  'notifications.announce': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, title: 'Hijacked', body: 'x' }) },
  'notifications.announcements': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'notifications.announcement': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, announcementId: fx.announcementId }) },
  'notifications.templates': { deny: adminOnly },
  'notifications.previewTemplate': { deny: adminOnly, input: () => ({ template: 'welcome', locale: 'fr' }) },
  // The gradebook: course graders (the TA among them) only; a learner sees their own grades; strangers find nothing.
  'grades.settings': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.updateSettings': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, treatMissingAsZero: true }) },
  'grades.categories': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.createCategory': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, name: 'Injected' }) },
  'grades.updateCategory': { deny: courseStaff, hidden: strangers, input: (fx) => ({ categoryId: fx.gradeCategoryId, weight: 99 }) },
  'grades.deleteCategory': { deny: courseStaff, hidden: strangers, input: (fx) => ({ categoryId: fx.gradeCategoryId }) },
  'grades.items': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.createItem': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, title: 'Injected', maxPoints: 1 }) },
  'grades.updateItem': { deny: courseStaff, hidden: strangers, input: (fx) => ({ itemId: fx.gradeItemId, title: 'Hijacked' }) },
  'grades.deleteItem': { deny: courseStaff, hidden: strangers, input: (fx) => ({ itemId: fx.gradeItemId }) },
  'grades.releaseItem': { deny: courseStaff, hidden: strangers, input: (fx) => ({ itemId: fx.gradeItemId, released: true }) },
  'grades.setGrade': { deny: courseStaff, hidden: strangers, input: (fx) => ({ itemId: fx.gradeItemId, userId: fx.studentId, points: 1 }) },
  'grades.overrideGrade': { deny: courseStaff, hidden: strangers, input: (fx) => ({ itemId: fx.gradeItemId, userId: fx.studentId, points: 1, reason: 'x' }) },
  'grades.overrideTotal': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, userId: fx.studentId, percent: 100, reason: 'x' }) },
  'grades.gradebook': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.myGrades': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.history': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, userId: fx.studentId }) },
  'grades.exportCsv': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'grades.importCsv': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, csv: 'userId\r\n', apply: true }) },
  'analytics.enrollmentsByCourse': { deny: ['anon', 'student', 'auditor', 'ta'] },
  'analytics.publishedByCategory': { deny: ['anon', 'student', 'auditor', 'ta'] },
  'audit.list': { deny: ['anon', 'student', 'foreign', 'ta'] },
  // Naming a course the caller is not in: 404, before any quota is counted or any model asked.
  'llm.complete': {
    deny: courseStaff,
    hidden: strangers,
    input: (fx) => ({ courseId: fx.publishedId, task: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  },
  'llm.usage': { deny: adminOnly },
  // The assignment is in the owner's published course: the TA grades there but may not author; the admin is its learner.
  'assignments.create': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.publishedId, title: 'Injected', maxPoints: 1 }) },
  'assignments.update': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId, title: 'Hijacked' }) },
  'assignments.delete': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId }) },
  'assignments.get': { deny: signedIn, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId }) },
  'assignments.list': { deny: signedIn, hidden: strangers, input: (fx) => ({ courseId: fx.publishedId }) },
  // Only the enrolled learner (the admin) hands in; the TA is staff, not a learner.
  'assignments.submit': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId, text: 'Planted' }) },
  // Their own submission: the TA has none (404), strangers cannot see the assignment.
  'assignments.mySubmission': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ assignmentId: fx.assignmentId }) },
  'assignments.submissions': { deny: courseStaff, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId }) },
  'assignments.grade': { deny: courseStaff, hidden: strangers, input: (fx) => ({ submissionId: fx.submissionId, points: 1 }) },
  'assignments.release': { deny: courseStaff, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId, submissionIds: [] }) },
  'assignments.gradeChanges': { deny: courseStaff, hidden: strangers, input: (fx) => ({ submissionId: fx.submissionId }) },
  // Groups: set by those who may edit the course (not the TA), listed by those who grade (the TA too).
  'assignments.setGroups': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId, groups: [] }) },
  'assignments.groups': { deny: courseStaff, hidden: strangers, input: (fx) => ({ assignmentId: fx.assignmentId }) },
  // Certificates: verification, the signed credential, the issuer's DID and the status list are public by design.
  'credentials.mine': { deny: signedIn },
  'credentials.verify': { deny: everyone, input: () => ({ code: 'AAAA-BBBB-CCCC-DDDD' }) },
  'credentials.credential': { deny: everyone, input: (fx) => ({ id: fx.credentialId }) },
  'credentials.didDocument': { deny: everyone },
  'credentials.statusList': { deny: everyone },
  'credentials.pdf': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ id: fx.credentialId }) },
  'credentials.revoke': { deny: adminOnly, input: (fx) => ({ id: fx.credentialId, reason: 'matrix' }) },
  // Quiz authoring in the owner's draft: its staff (the TA) read, only its editors change; nobody else learns it exists.
  'assessments.createBank': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, name: 'Planted' }) },
  'assessments.listBanks': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'assessments.getBank': { deny: courseStaff, hidden: strangers, input: (fx) => ({ bankId: fx.bankId }) },
  'assessments.renameBank': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ bankId: fx.bankId, name: 'Hijacked' }) },
  'assessments.deleteBank': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ bankId: fx.bankId }) },
  'assessments.shareBank': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ bankId: fx.bankId, courseId: fx.publishedId }) },
  'assessments.createCategory': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ bankId: fx.bankId, name: 'Planted' }) },
  'assessments.listCategories': { deny: courseStaff, hidden: strangers, input: (fx) => ({ bankId: fx.bankId }) },
  'assessments.createQuestion': {
    deny: ownerOnly,
    hidden: strangers,
    input: (fx) => ({ bankId: fx.bankId, title: 'Planted', prompt: 'x', body: { type: 'truefalse', answer: true } }),
  },
  'assessments.listQuestions': { deny: courseStaff, hidden: strangers, input: (fx) => ({ bankId: fx.bankId }) },
  'assessments.getQuestion': { deny: courseStaff, hidden: strangers, input: (fx) => ({ questionId: fx.questionId }) },
  'assessments.updateQuestion': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ questionId: fx.questionId, title: 'Hijacked' }) },
  'assessments.deleteQuestion': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ questionId: fx.questionId }) },
  'assessments.correctQuestion': {
    deny: ownerOnly,
    hidden: strangers,
    input: (fx) => ({ questionId: fx.questionId, version: 1, body: { type: 'truefalse', answer: false }, reason: 'Hijacked' }),
  },
  'assessments.importQuestions': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ bankId: fx.bankId, format: 'gift', text: '::Planted:: x {T}' }) },
  'assessments.exportQuestions': { deny: courseStaff, hidden: strangers, input: (fx) => ({ bankId: fx.bankId, format: 'gift' }) },
  'assessments.createQuiz': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ courseId: fx.draftId, title: 'Planted' }) },
  'assessments.listQuizzes': { deny: courseStaff, hidden: strangers, input: (fx) => ({ courseId: fx.draftId }) },
  'assessments.getQuiz': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'assessments.updateQuiz': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ quizId: fx.quizId, title: 'Hijacked' }) },
  'assessments.publishQuiz': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'assessments.unpublishQuiz': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'assessments.deleteQuiz': { deny: ownerOnly, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  // Learners of the course see a published quiz's summary; this one is in a draft (its staff only).
  'assessments.quizSummary': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  // Quiz attempts: the quiz is the owner's draft's (its staff, the TA among them, grade and set overrides there; nobody
  // else learns it exists). The attempt is the admin's, in the owner's published course: nobody else sees or changes it
  // (404 for all, the TA included); its staff (the TA) review and grade it, nobody else learns it exists.
  'attempts.start': { deny: signedIn, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'attempts.get': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ attemptId: fx.attemptId }) },
  'attempts.saveAnswer': {
    deny: ownerOnly,
    hidden: ['student', 'foreign', 'auditor', 'ta'],
    input: (fx) => ({ attemptId: fx.attemptId, slot: 1, response: { type: 'truefalse', value: false } }),
  },
  'attempts.next': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ attemptId: fx.attemptId, from: 1 }) },
  'attempts.checkAnswer': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ attemptId: fx.attemptId, slot: 1 }) },
  'attempts.submit': { deny: ownerOnly, hidden: ['student', 'foreign', 'auditor', 'ta'], input: (fx) => ({ attemptId: fx.attemptId }) },
  'attempts.review': { deny: courseStaff, hidden: strangers, input: (fx) => ({ attemptId: fx.attemptId }) },
  'attempts.grade': { deny: courseStaff, hidden: strangers, input: (fx) => ({ attemptId: fx.attemptId, slot: 1, points: 1 }) },
  'attempts.setOverride': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId, userId: fx.studentId, extraAttempts: 5 }) },
  'attempts.listOverrides': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'attempts.deleteOverride': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId, userId: fx.studentId }) },
  'attempts.listAttempts': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'attempts.listRegrades': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  'attempts.statistics': { deny: courseStaff, hidden: strangers, input: (fx) => ({ quizId: fx.quizId }) },
  // Search answers everyone, each with what they may see (the test below checks the owner's draft stays hidden).
  'search.query': { deny: everyone, input: () => ({ q: 'Owner draft' }) },
  'search.suggest': { deny: everyone, input: () => ({ q: 'Owner' }) },
  'search.click': { deny: everyone, input: (fx) => ({ q: 'owner', documentId: `course:${fx.draftId}`, position: 0 }) },
  'search.analytics': { deny: adminOnly },
  'search.setSynonyms': { deny: adminOnly, input: () => ({ term: 'owner', synonyms: ['injected'] }) },
  'search.listSynonyms': { deny: adminOnly },
};

/** A well-formed subscription's keys (a P-256 point and a 16-byte secret, base64url). */
const pushKeys = { p256dh: `B${'A'.repeat(86)}`, auth: 'AAAAAAAAAAAAAAAAAAAAAA' };

let node: LmsNode;
let base: string;
const tokens: Partial<Record<Actor, string>> = {};
let fx: Fixtures;
const pw = 'idor matrix password';

beforeAll(async () => {
  node = await startNode(Object.values(SERVICES), { mode: 'embedded', dataDir: 'memory://', port: 0, databaseUrl: undefined });
  base = `http://127.0.0.1:${gatewayPort(node.broker)}`;
  const reg = async (email: string) => (await http(base, 'POST', '/api/v1/auth/register', { email, password: pw, displayName: 'M' })).body;
  const admin = await reg('admin@idor.test');
  const owner = await reg('owner@idor.test');
  const foreign = await reg('foreign@idor.test');
  const student = await reg('student@idor.test');
  const auditor = await reg('auditor@idor.test');
  const ta = await reg('ta@idor.test');
  for (const u of [owner, foreign]) await http(base, 'POST', `/api/v1/users/${u.user.id}/roles`, { role: 'instructor' }, admin.accessToken);
  await http(base, 'POST', `/api/v1/users/${auditor.user.id}/roles`, { role: 'auditor' }, admin.accessToken);
  const login = async (email: string) => (await http(base, 'POST', '/api/v1/auth/login', { email, password: pw })).body;
  const ownerSession = await login('owner@idor.test');
  tokens.foreign = (await login('foreign@idor.test')).accessToken;
  tokens.auditor = (await login('auditor@idor.test')).accessToken;
  tokens.student = student.accessToken;
  tokens.ta = ta.accessToken;
  const draft = await http(base, 'POST', '/api/v1/courses', { title: 'Owner draft', category: 'private' }, ownerSession.accessToken);
  expect(draft.status).toBe(201);
  expect((await http(base, 'PUT', `/api/v1/courses/${draft.body.id}/members/${ta.user.id}`, { role: 'ta' }, ownerSession.accessToken)).status).toBe(200);
  const exp = await http(base, 'POST', '/api/v1/me/export', {}, ownerSession.accessToken);
  expect(exp.status).toBe(202);
  const mod = await http(base, 'POST', `/api/v1/courses/${draft.body.id}/modules`, { title: 'Owner module' }, ownerSession.accessToken);
  const les = await http(
    base,
    'POST',
    `/api/v1/modules/${mod.body.id}/lessons`,
    { title: 'Owner lesson', content: { type: 'markdown', body: 'x' } },
    ownerSession.accessToken,
  );
  // A published course with the TA on staff, where the owner is enrolled as a learner.
  const pub = await http(base, 'POST', '/api/v1/courses', { title: 'Owner published', category: 'public' }, ownerSession.accessToken);
  const pm = await http(base, 'POST', `/api/v1/courses/${pub.body.id}/modules`, { title: 'M' }, ownerSession.accessToken);
  const pl = await http(
    base,
    'POST',
    `/api/v1/modules/${pm.body.id}/lessons`,
    { title: 'L', content: { type: 'markdown', body: 'x' } },
    ownerSession.accessToken,
  );
  await http(base, 'PUT', `/api/v1/courses/${pub.body.id}/members/${ta.user.id}`, { role: 'ta' }, ownerSession.accessToken);
  expect((await http(base, 'POST', `/api/v1/courses/${pub.body.id}/publish`, undefined, ownerSession.accessToken)).status).toBe(200);
  const enr = await http(base, 'POST', `/api/v1/courses/${pub.body.id}/enrollments`, {}, admin.accessToken);
  expect(enr.body.status).toBe('active');
  const file = await fetch(`${base}/api/v1/files`, {
    method: 'POST',
    body: 'owner notes',
    headers: { authorization: `Bearer ${ownerSession.accessToken}`, 'x-filename': 'notes.txt', 'content-type': 'text/plain' },
  });
  expect(file.status).toBe(201);
  // The admin's welcome notification from the enrolment above: someone else's in-app notification.
  const adminToken = admin.accessToken as string;
  const note = await waitFor(
    async () => (await http(base, 'GET', '/api/v1/me/notifications', undefined, adminToken)).body.items?.[0]?.id as string | undefined,
    10_000,
  );
  const sub = await http(
    base,
    'POST',
    '/api/v1/me/push-subscriptions',
    { endpoint: 'https://push.example.org/send/owner', keys: pushKeys },
    ownerSession.accessToken,
  );
  expect(sub.status).toBe(201);
  const ann = await http(base, 'POST', `/api/v1/courses/${draft.body.id}/announcements`, { title: 'Owner news', body: 'x' }, ownerSession.accessToken);
  expect(ann.status).toBe(202);
  const asg = await http(
    base,
    'POST',
    `/api/v1/courses/${pub.body.id}/assignments`,
    { title: 'Owner assignment', maxPoints: 10, published: true, submissionTypes: 'both' },
    ownerSession.accessToken,
  );
  expect(asg.status).toBe(201);
  // The admin's enrolment makes them a learner of the course once courses has applied it; they hand in a file of theirs.
  const work = await fetch(`${base}/api/v1/files`, {
    method: 'POST',
    body: 'learner work file',
    headers: { authorization: `Bearer ${adminToken}`, 'x-filename': 'work.txt', 'content-type': 'text/plain' },
  });
  expect(work.status).toBe(201);
  const workFileId = ((await work.json()) as { id: string }).id;
  const handedIn = await waitFor(async () => {
    const r = await http(base, 'POST', `/api/v1/assignments/${asg.body.id}/submissions`, { text: 'Learner work', fileIds: [workFileId] }, adminToken);
    return r.status === 201 && (r.body as { id: string });
  });
  const credential = credentialsInternal.issue.output.parse(
    await node.broker.call(credentialsInternal.issue.action, { userId: owner.user.id, courseId: pub.body.id, completedAt: new Date().toISOString() }),
  );
  const bank = await http(base, 'POST', `/api/v1/courses/${draft.body.id}/question-banks`, { name: 'Owner bank' }, ownerSession.accessToken);
  expect(bank.status).toBe(201);
  const question = await http(
    base,
    'POST',
    `/api/v1/question-banks/${bank.body.id}/questions`,
    { title: 'Owner question', prompt: 'True?', body: { type: 'truefalse', answer: true } },
    ownerSession.accessToken,
  );
  expect(question.status).toBe(201);
  const quiz = await http(
    base,
    'POST',
    `/api/v1/courses/${draft.body.id}/quizzes`,
    { title: 'Owner quiz', sections: [{ title: '', slots: [{ from: 'fixed', questionId: question.body.id, points: 1 }] }] },
    ownerSession.accessToken,
  );
  expect(quiz.status).toBe(201);
  // A published quiz in the published course, and the admin's attempt at it (left in progress, a true/false answered true).
  const pubBank = await http(base, 'POST', `/api/v1/courses/${pub.body.id}/question-banks`, { name: 'Published bank' }, ownerSession.accessToken);
  const pubQuestion = await http(
    base,
    'POST',
    `/api/v1/question-banks/${pubBank.body.id}/questions`,
    { title: 'Published question', prompt: 'True?', body: { type: 'truefalse', answer: true } },
    ownerSession.accessToken,
  );
  const pubQuiz = await http(
    base,
    'POST',
    `/api/v1/courses/${pub.body.id}/quizzes`,
    { title: 'Published quiz', sections: [{ title: '', slots: [{ from: 'fixed', questionId: pubQuestion.body.id, points: 1 }] }] },
    ownerSession.accessToken,
  );
  expect((await http(base, 'POST', `/api/v1/quizzes/${pubQuiz.body.id}/publish`, undefined, ownerSession.accessToken)).status).toBe(200);
  const attempt = await http(base, 'POST', `/api/v1/quizzes/${pubQuiz.body.id}/attempts`, {}, adminToken);
  expect(attempt.status).toBe(201);
  expect((await http(base, 'PUT', `/api/v1/attempts/${attempt.body.id}/answers/1`, { response: { type: 'truefalse', value: true } }, adminToken)).status).toBe(
    200,
  );
  const gradeCategory = await http(base, 'POST', `/api/v1/courses/${draft.body.id}/gradebook/categories`, { name: 'Owner category' }, ownerSession.accessToken);
  expect(gradeCategory.status).toBe(201);
  const gradeItem = await http(
    base,
    'POST',
    `/api/v1/courses/${draft.body.id}/gradebook/items`,
    { title: 'Owner item', maxPoints: 10 },
    ownerSession.accessToken,
  );
  expect(gradeItem.status).toBe(201);
  fx = {
    workFileId,
    assignmentId: asg.body.id,
    submissionId: handedIn.id,
    credentialId: credential.credentialId,
    bankId: bank.body.id,
    questionId: question.body.id,
    quizId: quiz.body.id,
    attemptId: attempt.body.id,
    gradeItemId: gradeItem.body.id,
    gradeCategoryId: gradeCategory.body.id,
    notificationId: note,
    pushSubscriptionId: sub.body.id,
    announcementId: ann.body.id,
    fileId: ((await file.json()) as { id: string }).id,
    ownerId: owner.user.id,
    ownerSessionId: ownerSession.sessionId,
    draftId: draft.body.id,
    studentId: student.user.id,
    taId: ta.user.id,
    exportId: exp.body.id,
    moduleId: mod.body.id,
    lessonId: les.body.id,
    publishedId: pub.body.id,
    publishedLessonId: pl.body.id,
    enrollmentId: enr.body.id,
  };
  // Every service in one node and some forty requests: ~50 s on a loaded 2-core machine, near the 60 s default.
}, 180_000);
afterAll(() => node?.stop());

function request(c: AnyProcedure, input: Record<string, unknown>): [string, string, unknown] {
  const route = defined(c.rest, `${c.action}'s REST route`);
  const rest = { ...input };
  const path = route.path.replace(/\{(\w+)\}/g, (_, p: string) => {
    const v = String(rest[p]);
    delete rest[p];
    return encodeURIComponent(v);
  });
  const isQuery = route.method === 'GET' || route.method === 'DELETE';
  const qs = isQuery && Object.keys(rest).length ? `?${new URLSearchParams(rest as Record<string, string>).toString()}` : '';
  return [route.method, `/api/v1${path}${qs}`, isQuery ? undefined : rest];
}

describe('access matrix', () => {
  it('places every REST operation in the matrix', () => {
    const missing = allProcedures()
      .filter((c) => c.rest && !matrix[c.action])
      .map((c) => c.action);
    expect(missing).toEqual([]);
  });

  // Several hundred requests: past the 30 s default on a loaded 2-core machine.
  it('refuses every denied actor on every operation, on the resource of another user', { timeout: 180_000 }, async () => {
    const successes: string[] = [];
    for (const c of allProcedures().filter((p) => p.rest)) {
      const rule = defined(matrix[c.action]);
      for (const actor of rule.deny) {
        const [method, url, body] = request(c, rule.input?.(fx) ?? {});
        const r = await http(base, method, url, body, actor === 'anon' ? undefined : tokens[actor]);
        if (r.status < 400 || ![401, 403, 404].includes(r.status)) successes.push(`${actor} ${method} ${url} → ${r.status}`);
        if (actor === 'anon' && r.status !== 401) successes.push(`anon ${method} ${url} → ${r.status} (expected 401)`);
        if (rule.hidden?.includes(actor) && r.status !== 404) successes.push(`${actor} ${method} ${url} → ${r.status} (expected 404: they cannot see it)`);
      }
    }
    expect(successes).toEqual([]);
    // And nothing changed hands: the draft is still the owner's, unpublished, with its title.
    const owner = (await http(base, 'POST', '/api/v1/auth/login', { email: 'owner@idor.test', password: pw })).body;
    const draft = await http(base, 'GET', `/api/v1/courses/${fx.draftId}`, undefined, owner.accessToken);
    expect(draft.body).toMatchObject({ title: 'Owner draft', status: 'draft', ownerId: fx.ownerId });
    expect(owner.user.roles).toEqual(['instructor', 'student']);
    const members = (await http(base, 'GET', `/api/v1/courses/${fx.draftId}/members`, undefined, owner.accessToken)).body.items;
    expect(members.map((m: { userId: string; role: string }) => [m.userId, m.role]).sort()).toEqual(
      [
        [fx.ownerId, 'owner'],
        [fx.taId, 'ta'],
      ].sort(),
    );
    expect((await http(base, 'GET', '/api/v1/me', undefined, owner.accessToken)).body.status).toBe('active');
    // The admin's attempt is still in progress with their answer (nobody else saved, submitted or graded it).
    const admin = (await http(base, 'POST', '/api/v1/auth/login', { email: 'admin@idor.test', password: pw })).body;
    const attempt = await http(base, 'GET', `/api/v1/attempts/${fx.attemptId}`, undefined, admin.accessToken);
    expect(attempt.body.state).toBe('in_progress');
    expect(attempt.body.questions[0].response).toEqual({ type: 'truefalse', value: true });

    const content = (await http(base, 'GET', `/api/v1/courses/${fx.draftId}/content?version=draft`, undefined, owner.accessToken)).body;
    expect((await http(base, 'GET', `/api/v1/files/${fx.fileId}`, undefined, owner.accessToken)).body.name).toBe('notes.txt');
    expect(content.modules.map((m: { title: string; lessons: unknown[] }) => [m.title, m.lessons.length])).toEqual([['Owner module', 1]]);
    expect((await http(base, 'GET', '/api/v1/me/push-subscriptions', undefined, owner.accessToken)).body.items.map((i: { id: string }) => i.id)).toEqual([
      fx.pushSubscriptionId,
    ]);
    expect(
      (await http(base, 'GET', `/api/v1/courses/${fx.draftId}/announcements`, undefined, owner.accessToken)).body.items.map((i: { title: string }) => i.title),
    ).toEqual(['Owner news']);
  });
  it("finds the owner's draft for its staff only, in search results and suggestions", async () => {
    const hits = async (token: string | undefined, path: string) => {
      const r = await http(base, 'GET', path, undefined, token);
      expect(r.status).toBe(200);
      return JSON.stringify(r.body);
    };
    // The TA is on the draft's staff: once the index has caught up they find it; nobody else ever does.
    await waitFor(async () => (await hits(tokens.ta, '/api/v1/search?q=Owner%20draft&mode=lexical')).includes(fx.draftId), 15_000);
    for (const actor of ['anon', ...strangers] as Actor[]) {
      const token = actor === 'anon' ? undefined : tokens[actor];
      expect(await hits(token, '/api/v1/search?q=Owner%20draft&mode=lexical'), actor).not.toContain(fx.draftId);
      expect(await hits(token, '/api/v1/search?q=Owner%20lesson&type=lesson'), actor).not.toContain(fx.lessonId);
      expect(await hits(token, '/api/v1/search/suggest?q=Owner%20dr'), actor).not.toContain(fx.draftId);
    }
  });
  it("lets the course's graders (the TA) download a handed-in file, and nobody else who is not its owner: 404", async () => {
    const download = (token: string | undefined) =>
      fetch(`${base}/api/v1/files/${fx.workFileId}/content`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const ta = await download(tokens.ta);
    expect(ta.status).toBe(200);
    expect(await ta.text()).toBe('learner work file');
    for (const actor of strangers) expect((await download(tokens[actor])).status, actor).toBe(404);
    expect((await download(undefined)).status).toBe(401);
    // Read, never change.
    expect((await http(base, 'DELETE', `/api/v1/files/${fx.workFileId}`, undefined, tokens.ta)).status).toBe(403);
  });
  it('answers 404, never 403, to whoever cannot see the course, on everything course-scoped outside the matrix', async () => {
    const body = (r: { status: number; body: { error?: { code: string; message: string } } }) => [r.status, r.body.error?.code];
    for (const actor of strangers) {
      const token = defined(tokens[actor]);
      // The draft's roster (the matrix tries the published course's, which they may see but not read: 403).
      expect(body(await http(base, 'GET', `/api/v1/courses/${fx.draftId}/roster`, undefined, token)), actor).toEqual([404, 'COURSE_NOT_FOUND']);
      // An upload into the draft, raw and resumable (tus).
      const up = await fetch(`${base}/api/v1/files?courseId=${fx.draftId}`, {
        method: 'POST',
        body: 'planted',
        headers: { authorization: `Bearer ${token}`, 'x-filename': 'x.txt', 'content-type': 'text/plain' },
      });
      expect(up.status, actor).toBe(404);
      const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
      const meta = `filename ${Buffer.from('x.txt').toString('base64')},courseId ${Buffer.from(fx.draftId).toString('base64')}`;
      const created = await fetch(`${base}/api/v1/files/uploads`, { method: 'POST', headers: { ...tus, 'upload-length': '7', 'upload-metadata': meta } });
      expect(created.status).toBe(201);
      const done = await fetch(new URL(defined(created.headers.get('location')), base), {
        method: 'PATCH',
        headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: 'planted',
      });
      expect(done.status, actor).toBe(404);
    }
    // The TA sees the draft but may not attach files to it: that is a 403.
    const ta = await fetch(`${base}/api/v1/files?courseId=${fx.draftId}`, {
      method: 'POST',
      body: 'planted',
      headers: { authorization: `Bearer ${tokens.ta}`, 'x-filename': 'x.txt', 'content-type': 'text/plain' },
    });
    expect(ta.status).toBe(403);
    // A prerequisite the caller cannot see is refused exactly like an unknown id (it does not leak that the course exists).
    const prereq = async (id: string) => {
      const r = await http(base, 'POST', '/api/v1/courses', { title: 'Foreign course', category: 'x', prerequisites: [id] }, tokens.foreign);
      return [r.status, r.body.error?.code, String(r.body.error?.message).replace(id, '<id>')];
    };
    const unknown = await prereq('00000000-0000-4000-8000-00000000abcd');
    expect(unknown[0]).toBe(422);
    expect(await prereq(fx.draftId)).toEqual(unknown);
    expect(
      (await http(base, 'POST', '/api/v1/courses', { title: 'Foreign course', category: 'x', prerequisites: [fx.publishedId] }, tokens.foreign)).status,
    ).toBe(201);
  });
});
