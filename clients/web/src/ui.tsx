// Small wrappers over React Aria Components (labels, descriptions, errors and focus handled by them) in the app's style.
import { errorCode } from '@lms/client';
import { useEffect, useRef, type ReactNode } from 'react';
import { Button as AriaButton, FieldError, Input, Label, Text, TextField, type ButtonProps, type TextFieldProps } from 'react-aria-components';
import { useI18n, type I18n } from './i18n.ts';

/**
 * React Aria's Button. While `isPending` it ignores presses and says so with aria-disabled, keeping focus where it is;
 * React Aria's own isPending is not used: it announces through a live region that keeps pointing at the button's id
 * after the page changed (axe: role-img-alt).
 */
export function Button({ variant = 'primary', isPending, onPress, type, ...props }: ButtonProps & { variant?: 'primary' | 'secondary' }) {
  return (
    <AriaButton
      {...props}
      type={isPending ? 'button' : type}
      onPress={isPending ? undefined : onPress}
      aria-disabled={isPending || undefined}
      className={`btn btn-${variant}${isPending ? ' is-pending' : ''}`}
    />
  );
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

let focusNextTitle = false;
/** Called by the router after a navigation to another path (not on the first load): the next page title takes focus. */
export function focusTitleOnNextPage() {
  focusNextTitle = true;
}

/**
 * The page's heading. After a navigation it takes focus when it appears (a lazily loaded page a moment later), so
 * that keyboard users start from the new page and screen readers announce it.
 */
export function PageTitle({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!focusNextTitle) return;
    focusNextTitle = false;
    ref.current?.focus();
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref} data-page-title>
      {children}
    </h1>
  );
}
