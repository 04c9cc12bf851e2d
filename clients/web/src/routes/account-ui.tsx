// Small pieces the account pages share (lazy: none of it is in the initial bundle).
import { useEffect, useRef, type ReactNode } from 'react';
import { ErrorMessage, Field } from '../ui.tsx';
import { useAccountI18n } from './account-i18n.ts';

/** A section's heading that takes focus when it appears after a step (MFA enrolment's next step, a result), so
 * keyboard and screen-reader users continue from there instead of from the button that is gone. */
export function StepHeading({ level = 2, focus = true, id, children }: { level?: 2 | 3; focus?: boolean; id?: string; children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  const H = level === 2 ? 'h2' : 'h3';
  return (
    <H ref={ref} tabIndex={-1} id={id}>
      {children}
    </H>
  );
}

/** A success message, announced politely: the live region is always there (empty until then), as screen readers
 * announce changes to a region they already know, not one that appears with its text. */
export function Success({ children }: { children: ReactNode }) {
  return (
    <p className="success" role="status">
      {children}
    </p>
  );
}

/** A date and time in the reader's locale. */
export function formatDateTime(locale: string, iso: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** A new password and its confirmation (fields `newPassword`, `confirmPassword`), and the mismatch when there is one. */
export function NewPasswordFields({ mismatch }: { mismatch: boolean }) {
  const { t } = useAccountI18n();
  return (
    <>
      <Field
        label={t('newPassword')}
        name="newPassword"
        type="password"
        isRequired
        minLength={10}
        autoComplete="new-password"
        description={t('passwordHint')}
      />
      <Field label={t('confirmPassword')} name="confirmPassword" type="password" isRequired minLength={10} autoComplete="new-password" />
      {mismatch ? <ErrorMessage>{t('passwordMismatch')}</ErrorMessage> : null}
    </>
  );
}
