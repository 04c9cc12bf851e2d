// Sign in with email and password, then the TOTP step when the account asks for one (auth.login answers a challenge
// instead of a session); afterwards back to where the person was.
import { errorCode, needsSecondFactor } from '@lms/client';
import type { Session } from '@lms/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { sessionStore } from '../session.ts';
import { Button, ErrorMessage, Field, PageTitle } from '../ui.tsx';

const route = getRouteApi('/signin');

/** Keeps the new session and goes back where the person was (or to their dashboard). */
export function useSignedIn(redirect: string | undefined) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return async (s: Session) => {
    queryClient.clear();
    sessionStore.set(s);
    await navigate({ to: redirect ?? '/dashboard' });
  };
}

/** A text field's value from a submitted form ('' when absent). */
export function formValue(form: HTMLFormElement, name: string): string {
  const v = new FormData(form).get(name);
  return typeof v === 'string' ? v : '';
}

export function SignIn() {
  const { t } = useI18n();
  const search = route.useSearch();
  const signedIn = useSignedIn(search.redirect);
  const [mfaToken, setMfaToken] = useState<string | null>(null);

  const login = useMutation({
    mutationFn: (v: { email: string; password: string }) => api.auth.login.mutate(v),
    onSuccess: async (r) => (needsSecondFactor(r) ? setMfaToken(r.mfaToken) : signedIn(r)),
  });
  const verify = useMutation({
    mutationFn: (v: { mfaToken: string; code: string }) => api.auth.mfaVerify.mutate(v),
    onSuccess: signedIn,
  });

  if (mfaToken)
    return (
      <div className="narrow">
        <PageTitle>{t('mfaTitle')}</PageTitle>
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            verify.mutate({ mfaToken, code: formValue(e.currentTarget, 'code').trim() });
          }}
        >
          <Field label={t('mfaCode')} name="code" isRequired autoFocus inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} />
          {/* INVALID_CREDENTIALS here is the code, not the password already accepted. */}
          {errorCode(verify.error) === 'INVALID_CREDENTIALS' ? (
            <ErrorMessage>{t('mfaWrongCode')}</ErrorMessage>
          ) : (
            <ErrorMessage error={verify.error ?? undefined} />
          )}
          <Button type="submit" isPending={verify.isPending}>
            {t('mfaSubmit')}
          </Button>
        </Form>
      </div>
    );

  return (
    <div className="narrow">
      <PageTitle>{t('signInTitle')}</PageTitle>
      {search.expired ? (
        <p className="notice" role="status">
          {t('sessionExpired')}
        </p>
      ) : null}
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          login.mutate({ email: formValue(e.currentTarget, 'email'), password: formValue(e.currentTarget, 'password') });
        }}
      >
        <Field label={t('email')} name="email" type="email" isRequired autoComplete="email" />
        <Field label={t('password')} name="password" type="password" isRequired autoComplete="current-password" />
        <ErrorMessage error={login.error ?? undefined} />
        <Button type="submit" isPending={login.isPending}>
          {t('signInSubmit')}
        </Button>
      </Form>
      <p>
        <Link to="/forgot-password">{t('forgotLink')}</Link>
      </p>
      <p>
        {t('noAccount')}{' '}
        <Link to="/signup" search={{ redirect: search.redirect }}>
          {t('navSignUp')}
        </Link>
      </p>
    </div>
  );
}
