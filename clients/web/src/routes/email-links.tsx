// The pages behind the links in the account emails (services/notifications templates: /verify-email?token= and
// /reset-password?token=), and the form that asks for a reset link.
import { errorCode } from '@lms/client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { useAccountI18n } from './account-i18n.ts';
import { useSession } from '../session.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { NewPasswordFields, StepHeading } from './account-ui.tsx';
import { formValue } from './signin.tsx';

/** A verification token is single use: one request per token however often the page renders (StrictMode mounts twice). */
const verifications = new Map<string, ReturnType<typeof api.auth.verifyEmail.mutate>>();

export function VerifyEmail() {
  const { t } = useAccountI18n();
  const { token } = getRouteApi('/verify-email').useSearch();
  const session = useSession();
  const queryClient = useQueryClient();
  const [state, setState] = useState<{ done: boolean; error?: unknown }>({ done: false });
  useEffect(() => {
    if (!token) return;
    let p = verifications.get(token);
    if (!p) verifications.set(token, (p = api.auth.verifyEmail.mutate({ token })));
    let live = true;
    p.then(
      () => {
        if (!live) return;
        setState({ done: true });
        void queryClient.invalidateQueries({ queryKey: ['me'] });
      },
      (error: unknown) => live && setState({ done: true, error }),
    );
    return () => {
      live = false;
    };
  }, [token]);

  return (
    <div className="narrow">
      <PageTitle>{t('verifyTitle')}</PageTitle>
      {!token ? (
        <ErrorMessage>{t('linkIncomplete')}</ErrorMessage>
      ) : !state.done ? (
        <Loading />
      ) : state.error ? (
        <>
          <ErrorMessage error={state.error}>{errorCode(state.error) === 'TOKEN_INVALID' ? t('verifyInvalid') : undefined}</ErrorMessage>
          {session ? (
            <Link to="/settings">{t('verifyResendFromSettings')}</Link>
          ) : (
            <Link to="/signin" search={{ redirect: '/settings' }}>
              {t('verifySignInToResend')}
            </Link>
          )}
        </>
      ) : (
        <>
          <p className="success" role="status">
            {t('verifyDone')}
          </p>
          {session ? (
            <Link to="/dashboard">{t('navDashboard')}</Link>
          ) : (
            <Link to="/signin" search={{}}>
              {t('navSignIn')}
            </Link>
          )}
        </>
      )}
    </div>
  );
}

export function ForgotPassword() {
  const { t } = useAccountI18n();
  const forgot = useMutation({ mutationFn: (email: string) => api.auth.forgotPassword.mutate({ email }) });
  return (
    <div className="narrow">
      <PageTitle>{t('forgotTitle')}</PageTitle>
      {forgot.isSuccess ? (
        <div>
          <StepHeading>{t('forgotSentTitle')}</StepHeading>
          <p>{t('forgotSent', { email: forgot.variables })}</p>
          <Link to="/signin" search={{}}>
            {t('navSignIn')}
          </Link>
        </div>
      ) : (
        <>
          <p>{t('forgotBody')}</p>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              forgot.mutate(formValue(e.currentTarget, 'email').trim());
            }}
          >
            <Field label={t('email')} name="email" type="email" isRequired autoComplete="email" />
            <ErrorMessage error={forgot.error ?? undefined} />
            <Button type="submit" isPending={forgot.isPending}>
              {t('forgotSubmit')}
            </Button>
          </Form>
        </>
      )}
    </div>
  );
}

export function ResetPassword() {
  const { t } = useAccountI18n();
  const { token } = getRouteApi('/reset-password').useSearch();
  const [mismatch, setMismatch] = useState(false);
  const reset = useMutation({ mutationFn: (newPassword: string) => api.auth.resetPassword.mutate({ token: token ?? '', newPassword }) });
  return (
    <div className="narrow">
      <PageTitle>{t('resetTitle')}</PageTitle>
      {!token ? (
        <>
          <ErrorMessage>{t('linkIncomplete')}</ErrorMessage>
          <Link to="/forgot-password">{t('resetAskAgain')}</Link>
        </>
      ) : reset.isSuccess ? (
        <div>
          <StepHeading>{t('resetDoneTitle')}</StepHeading>
          <p>{t('resetDone')}</p>
          <Link to="/signin" search={{}} className="btn btn-primary">
            {t('navSignIn')}
          </Link>
        </div>
      ) : (
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            const f = e.currentTarget;
            const next = formValue(f, 'newPassword');
            setMismatch(next !== formValue(f, 'confirmPassword'));
            if (next === formValue(f, 'confirmPassword')) reset.mutate(next);
          }}
        >
          <NewPasswordFields mismatch={mismatch} />
          {errorCode(reset.error) === 'TOKEN_INVALID' ? (
            <ErrorMessage>
              {t('resetInvalid')} <Link to="/forgot-password">{t('resetAskAgain')}</Link>
            </ErrorMessage>
          ) : (
            <ErrorMessage error={reset.error ?? undefined} />
          )}
          <Button type="submit" isPending={reset.isPending}>
            {t('resetSubmit')}
          </Button>
        </Form>
      )}
    </div>
  );
}
