// Create an account (auth.register answers a session: the person is signed in at once).
import { useMutation } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { Button, ErrorMessage, Field, PageTitle } from '../ui.tsx';
import { formValue, useSignedIn } from './signin.tsx';

const route = getRouteApi('/signup');

export function SignUp() {
  const { t } = useI18n();
  const search = route.useSearch();
  const signedIn = useSignedIn(search.redirect);
  const register = useMutation({
    mutationFn: (v: { email: string; password: string; displayName: string }) => api.auth.register.mutate(v),
    onSuccess: signedIn,
  });
  return (
    <div className="narrow">
      <PageTitle>{t('signUpTitle')}</PageTitle>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          const f = e.currentTarget;
          register.mutate({ displayName: formValue(f, 'displayName'), email: formValue(f, 'email'), password: formValue(f, 'password') });
        }}
      >
        <Field label={t('displayName')} name="displayName" isRequired autoComplete="name" maxLength={100} />
        <Field label={t('email')} name="email" type="email" isRequired autoComplete="email" />
        <Field label={t('password')} name="password" type="password" isRequired minLength={10} autoComplete="new-password" description={t('passwordHint')} />
        <ErrorMessage error={register.error ?? undefined} />
        <Button type="submit" isPending={register.isPending}>
          {t('signUpSubmit')}
        </Button>
      </Form>
      <p>
        {t('haveAccount')}{' '}
        <Link to="/signin" search={{ redirect: search.redirect }}>
          {t('navSignIn')}
        </Link>
      </p>
    </div>
  );
}
