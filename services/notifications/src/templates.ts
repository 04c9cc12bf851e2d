import type { NotificationTemplate } from '@lms/contracts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Plain text is the message; the HTML part is the same text, escaped, with the link made clickable. */
function message(subject: string, lines: string[], link?: { label: string; url: string }): Rendered {
  const text = [...lines, ...(link ? ['', `${link.label}: ${link.url}`] : [])].join('\n');
  const html = lines.map((l) => `<p>${esc(l)}</p>`).join('') + (link ? `<p><a href="${esc(link.url)}">${esc(link.label)}</a></p>` : '');
  return { subject, text, html, link: link?.url };
}

export interface Rendered {
  subject: string;
  text: string;
  html: string;
  /** Where the message leads (for the in-app copy), if anywhere. */
  link?: string;
  /** Extra mail headers (List-Unsubscribe). */
  headers?: Record<string, string>;
}

/** French versions; any template or locale missing here falls back to English. */
function renderFr(template: NotificationTemplate, data: Record<string, string>, publicUrl: string): Rendered | undefined {
  const name = data.displayName ?? '';
  const url = (p: string, token: string) => `${publicUrl.replace(/\/$/, '')}${p}?token=${encodeURIComponent(token)}`;
  switch (template) {
    case 'email_verification':
      return message(
        'Confirmez votre adresse e-mail',
        [
          `Bonjour ${name},`,
          `Confirmez que cette adresse est bien la vôtre. Le lien ne sert qu'une fois et expire dans ${data.expiresInHours ?? '24'} heures.`,
        ],
        {
          label: 'Confirmer mon adresse',
          url: url('/verify-email', data.token ?? ''),
        },
      );
    case 'password_reset':
      return message(
        'Réinitialisez votre mot de passe',
        [
          `Bonjour ${name},`,
          `Le lien ne sert qu'une fois et expire dans ${data.expiresInMinutes ?? '30'} minutes. Si ce n'était pas vous, ignorez ce message.`,
        ],
        {
          label: 'Choisir un nouveau mot de passe',
          url: url('/reset-password', data.token ?? ''),
        },
      );
    case 'enrollment_welcome':
      return message(`Bienvenue dans ${data.courseTitle ?? 'votre cours'}`, [`Bonjour ${name},`, `Vous êtes inscrit à ${data.courseTitle ?? 'ce cours'}.`], {
        label: 'Ouvrir le cours',
        url: `${publicUrl.replace(/\/$/, '')}/courses/${encodeURIComponent(data.courseId ?? '')}`,
      });
    case 'welcome':
      return message(
        `Bienvenue, ${name}`,
        [`Bonjour ${name},`, 'Votre compte est prêt. Confirmez votre adresse avec le lien reçu à part, puis choisissez un premier cours.'],
        {
          label: 'Parcourir le catalogue',
          url: `${publicUrl.replace(/\/$/, '')}/courses`,
        },
      );
    case 'announcement':
      return message(data.title ?? 'Annonce', [`${data.courseTitle ?? 'Votre cours'} :`, ...(data.body ?? '').split(/\n+/)], {
        label: 'Ouvrir le cours',
        url: courseUrl(publicUrl, data.courseId),
      });
    case 'course_completed':
      return message(
        `Vous avez terminé ${data.courseTitle ?? 'votre cours'}`,
        [`Bonjour ${name},`, `Félicitations : vous avez terminé ${data.courseTitle ?? 'ce cours'}.`],
        {
          label: 'Ouvrir le cours',
          url: courseUrl(publicUrl, data.courseId),
        },
      );
    case 'certificate_issued':
      return message(
        'Votre certificat est prêt',
        [`Bonjour ${name},`, `Votre certificat de fin de cours est délivré. Son code de vérification : ${data.code ?? ''}.`],
        { label: 'Voir mon certificat', url: `${publicUrl.replace(/\/$/, '')}/credentials/${encodeURIComponent(data.credentialId ?? '')}` },
      );
    case 'grade_released':
      return message(
        `Nouvelle note : ${data.itemTitle ?? ''}`,
        [
          `Bonjour ${name},`,
          data.percent
            ? `Votre note pour ${data.itemTitle ?? 'ce devoir'} est publiée : ${data.percent} %.`
            : `Votre note pour ${data.itemTitle ?? 'ce devoir'} est publiée.`,
        ],
        { label: 'Voir mes notes', url: courseUrl(publicUrl, data.courseId) },
      );
    case 'digest':
      return digest(data, publicUrl, {
        subject: (n) => `${n} notification${n > 1 ? 's' : ''} ${data.period === 'weekly' ? 'cette semaine' : "aujourd'hui"}`,
        hello: `Bonjour ${name},`,
        open: 'Voir toutes mes notifications',
      });
    default:
      return undefined;
  }
}

const courseUrl = (publicUrl: string, courseId?: string) => `${publicUrl.replace(/\/$/, '')}/courses/${encodeURIComponent(courseId ?? '')}`;

/** A digest: one line per held message (`data.items` is JSON: [{ title, link }]). */
function digest(data: Record<string, string>, publicUrl: string, words: { subject: (n: number) => string; hello: string; open: string }): Rendered {
  let items: Array<{ title: string; link?: string | null }>;
  try {
    items = JSON.parse(data.items ?? '[]') as Array<{ title: string; link?: string | null }>;
  } catch {
    items = [];
  }
  return message(words.subject(items.length), [words.hello, ...items.map((i) => `• ${i.title}${i.link ? ` — ${i.link}` : ''}`)], {
    label: words.open,
    url: `${publicUrl.replace(/\/$/, '')}/notifications`,
  });
}

/** Locales with their own wording (any other locale gets English). */
export const templateLocales: Record<NotificationTemplate, string[]> = {
  email_verification: ['en', 'fr'],
  password_reset: ['en', 'fr'],
  password_changed: ['en'],
  mfa_enabled: ['en'],
  mfa_disabled: ['en'],
  welcome: ['en', 'fr'],
  privacy_export_ready: ['en'],
  enrollment_welcome: ['en', 'fr'],
  waitlist_promoted: ['en'],
  course_updated: ['en'],
  announcement: ['en', 'fr'],
  course_completed: ['en', 'fr'],
  certificate_issued: ['en', 'fr'],
  grade_released: ['en', 'fr'],
  digest: ['en', 'fr'],
};

/** Values an administrator's preview fills in when none are given. */
export const sampleData: Record<NotificationTemplate, Record<string, string>> = {
  email_verification: { displayName: 'Ada Lovelace', token: 'sample-token', expiresInHours: '24' },
  password_reset: { displayName: 'Ada Lovelace', token: 'sample-token', expiresInMinutes: '30' },
  password_changed: { displayName: 'Ada Lovelace' },
  mfa_enabled: { displayName: 'Ada Lovelace' },
  mfa_disabled: { displayName: 'Ada Lovelace' },
  welcome: { displayName: 'Ada Lovelace' },
  privacy_export_ready: { displayName: 'Ada Lovelace' },
  enrollment_welcome: { displayName: 'Ada Lovelace', courseTitle: 'Analytical Engines 101', courseId: '00000000-0000-4000-8000-000000000000' },
  waitlist_promoted: { displayName: 'Ada Lovelace', courseTitle: 'Analytical Engines 101' },
  course_updated: { displayName: 'Ada Lovelace', courseTitle: 'Analytical Engines 101', courseId: '00000000-0000-4000-8000-000000000000', version: '2' },
  announcement: {
    displayName: 'Ada Lovelace',
    courseTitle: 'Analytical Engines 101',
    courseId: '00000000-0000-4000-8000-000000000000',
    title: 'Room change',
    body: 'Thursday we meet in room 4.',
  },
  course_completed: { displayName: 'Ada Lovelace', courseId: '00000000-0000-4000-8000-000000000000', courseTitle: 'Analytical Engines 101' },
  certificate_issued: {
    displayName: 'Ada Lovelace',
    courseId: '00000000-0000-4000-8000-000000000000',
    credentialId: '00000000-0000-4000-8000-000000000001',
    code: 'AE101-7Q4K',
  },
  grade_released: { displayName: 'Ada Lovelace', courseId: '00000000-0000-4000-8000-000000000000', itemTitle: 'Essay 1', percent: '87.5' },
  digest: {
    displayName: 'Ada Lovelace',
    period: 'daily',
    items: JSON.stringify([
      { title: 'Welcome to Analytical Engines 101', link: null },
      { title: 'Room change', link: null },
    ]),
  },
};

/** Renders a template in a locale (`fr`, `fr-CA` → French; anything else, English). */
export function render(template: NotificationTemplate, data: Record<string, string>, publicUrl: string, locale = 'en'): Rendered {
  if (locale.toLowerCase().startsWith('fr')) {
    const fr = renderFr(template, data, publicUrl);
    if (fr) return fr;
  }
  return renderEn(template, data, publicUrl);
}

function renderEn(template: NotificationTemplate, data: Record<string, string>, publicUrl: string): Rendered {
  const name = data.displayName ?? 'there';
  const url = (path: string, token: string) => `${publicUrl.replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`;
  switch (template) {
    case 'email_verification':
      return message(
        'Confirm your email address',
        [
          `Hello ${name},`,
          `Confirm that this address is yours. The link works once and expires in ${data.expiresInHours ?? '24'} hours.`,
          'If you did not create an account, ignore this message.',
        ],
        { label: 'Confirm my email', url: url('/verify-email', data.token ?? '') },
      );
    case 'password_reset':
      return message(
        'Reset your password',
        [
          `Hello ${name},`,
          `Someone asked to reset the password of this account. The link works once and expires in ${data.expiresInMinutes ?? '30'} minutes.`,
          'If it was not you, ignore this message: your password stays as it is.',
        ],
        { label: 'Choose a new password', url: url('/reset-password', data.token ?? '') },
      );
    case 'password_changed':
      return message('Your password was changed', [
        `Hello ${name},`,
        'The password of your account was just changed. If it was not you, reset it now and contact your administrator.',
      ]);
    case 'mfa_enabled':
      return message('Two-step sign-in is on', [`Hello ${name},`, 'Two-step sign-in (an authenticator app) was turned on for your account.']);
    case 'mfa_disabled':
      return message('Two-step sign-in is off', [
        `Hello ${name},`,
        'Two-step sign-in was turned off for your account. If it was not you, reset your password now.',
      ]);
    case 'enrollment_welcome':
      return message(
        `Welcome to ${data.courseTitle ?? 'your course'}`,
        [`Hello ${name},`, `You are enrolled in ${data.courseTitle ?? 'the course'}. Your first lesson is waiting.`],
        {
          label: 'Open the course',
          url: `${publicUrl.replace(/\/$/, '')}/courses/${encodeURIComponent(data.courseId ?? '')}`,
        },
      );
    case 'waitlist_promoted':
      return message(`A seat opened in ${data.courseTitle ?? 'your course'}`, [
        `Hello ${name},`,
        `You were first on the waiting list of ${data.courseTitle ?? 'the course'}: the seat is yours.`,
      ]);
    case 'privacy_export_ready':
      return message('Your data export is ready', [`Hello ${name},`, 'The export of your data you asked for is ready to download from your account.']);
    case 'welcome':
      return message(
        `Welcome, ${name}`,
        [`Hello ${name},`, 'Your account is ready. Confirm your address with the link we sent separately, then pick a first course.'],
        {
          label: 'Browse the catalogue',
          url: `${publicUrl.replace(/\/$/, '')}/courses`,
        },
      );
    case 'course_updated':
      return message(
        `${data.courseTitle ?? 'Your course'} was updated`,
        [`Hello ${name},`, `A new version of ${data.courseTitle ?? 'your course'} is published. Your progress is kept.`],
        { label: 'Open the course', url: courseUrl(publicUrl, data.courseId) },
      );
    case 'announcement':
      return message(data.title ?? 'Announcement', [`${data.courseTitle ?? 'Your course'}:`, ...(data.body ?? '').split(/\n+/)], {
        label: 'Open the course',
        url: courseUrl(publicUrl, data.courseId),
      });
    case 'course_completed':
      return message(
        `You completed ${data.courseTitle ?? 'your course'}`,
        [`Hello ${name},`, `Congratulations: you completed ${data.courseTitle ?? 'the course'}.`],
        { label: 'Open the course', url: courseUrl(publicUrl, data.courseId) },
      );
    case 'certificate_issued':
      return message(
        'Your certificate is ready',
        [`Hello ${name},`, `Your course completion certificate was issued. Its verification code: ${data.code ?? ''}.`],
        { label: 'See my certificate', url: `${publicUrl.replace(/\/$/, '')}/credentials/${encodeURIComponent(data.credentialId ?? '')}` },
      );
    case 'grade_released':
      return message(
        `New grade: ${data.itemTitle ?? ''}`,
        [
          `Hello ${name},`,
          data.percent
            ? `Your grade for ${data.itemTitle ?? 'this item'} is out: ${data.percent}%.`
            : `Your grade for ${data.itemTitle ?? 'this item'} is out.`,
        ],
        { label: 'See my grades', url: courseUrl(publicUrl, data.courseId) },
      );
    case 'digest':
      return digest(data, publicUrl, {
        subject: (n) => `${n} notification${n === 1 ? '' : 's'} ${data.period === 'weekly' ? 'this week' : 'today'}`,
        hello: `Hello ${name},`,
        open: 'See all my notifications',
      });
  }
}
