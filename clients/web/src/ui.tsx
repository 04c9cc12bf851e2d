// Small wrappers over React Aria Components (labels, descriptions, errors and focus handled by them) in the app's style.
import { errorCode } from '@lms/client';
import type { ReactNode } from 'react';
import { Button as AriaButton, FieldError, Input, Label, Text, TextField, type ButtonProps, type TextFieldProps } from 'react-aria-components';
import { useI18n, type I18n } from './i18n.ts';

export function Button({ variant = 'primary', ...props }: ButtonProps & { variant?: 'primary' | 'secondary' }) {
  return <AriaButton {...props} className={`btn btn-${variant}`} />;
}

export function Field({ label, description, ...props }: TextFieldProps & { label: string; description?: string }) {
  const { t } = useI18n();
  return (
    <TextField {...props} className="field">
      <Label>{label}</Label>
      <Input />
      {description ? <Text slot="description">{description}</Text> : null}
      <FieldError>{(v) => (v.validationDetails.valueMissing ? t('required') : v.validationErrors.join(' '))}</FieldError>
    </TextField>
  );
}

/** A failed call in people's words: the API's code mapped to a message, else a network or generic one. */
export function errorText(i18n: I18n, err: unknown): string {
  const mapped = i18n.errorMessage(errorCode(err));
  if (mapped) return mapped;
  // fetch() itself failed (offline, server down): tRPC keeps its TypeError as the cause.
  if ((err as { cause?: unknown } | null)?.cause instanceof TypeError) return i18n.t('errorNetwork');
  return i18n.t('errorUnknown');
}

/** An error announced to screen readers as it appears. */
export function ErrorMessage({ error, children }: { error?: unknown; children?: ReactNode }) {
  const i18n = useI18n();
  if (!error && !children) return null;
  return (
    <p className="error" role="alert">
      {children ?? errorText(i18n, error)}
    </p>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="muted" role="status">
      {t('loading')}
    </p>
  );
}

/** The page's heading: focused after each navigation (App), so screen readers announce the new page. */
export function PageTitle({ children }: { children: string }) {
  return (
    <h1 tabIndex={-1} data-page-title>
      {children}
    </h1>
  );
}
