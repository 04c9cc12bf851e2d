// Account settings: the profile (name, bio, language, time zone, email verification), the password, two-step sign-in
// (TOTP enrolment with its secret and QR code, recovery codes, turning it off) and the signed-in sessions.
import { errorCode } from '@lms/client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { LOCALES, supportedLocale } from '../i18n.ts';
import { useAccountI18n } from './account-i18n.ts';
import { useSession, sessionStore } from '../session.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { formValue } from './signin.tsx';
import { formatDateTime, NewPasswordFields, StepHeading, Success } from './account-ui.tsx';

const LOCALE_NAMES = { en: 'English', fr: 'Français' } as const;

/** Keeps keyboard focus on the page when the control that had it disappears. */
const focusById = (id: string) => requestAnimationFrame(() => document.getElementById(id)?.focus());

export function Settings() {
  const { t } = useAccountI18n();
  return (
    <>
      <PageTitle>{t('settingsTitle')}</PageTitle>
      <p>
        <Link to="/settings/notifications">{t('prefsTitle')}</Link>
      </p>
      <div className="sections">
        <ProfileSection />
        <PasswordSection />
        <MfaSection />
        <SessionsSection />
      </div>
    </>
  );
}

function ProfileSection() {
  const { t, setLocale } = useAccountI18n();
  const session = useSession();
  const queryClient = useQueryClient();
  const me = useQuery({ queryKey: ['me', session?.user.id], queryFn: () => api.users.me.query({}), staleTime: 60_000 });
  const save = useMutation({
    mutationFn: (v: { displayName: string; bio: string; locale: string; timezone: string }) => api.users.updateMe.mutate(v),
    onSuccess: (profile) => {
      queryClient.setQueryData(['me', profile.id], profile);
      // The header shows the session's copy of the name.
      sessionStore.patchUser({ displayName: profile.displayName });
      const l = supportedLocale(profile.locale);
      if (l) {
        localStorage.setItem('lms.locale', l);
        setLocale(l);
      }
    },
  });
  const resend = useMutation({ mutationFn: () => api.auth.resendVerification.mutate({}) });
  const zones = Intl.supportedValuesOf('timeZone');

  return (
    <section aria-labelledby="profile-h" className="card">
      <h2 id="profile-h">{t('profileTitle')}</h2>
      {me.isPending ? <Loading /> : null}
      <ErrorMessage error={me.error ?? undefined} />
      {me.data ? (
        <>
          <p>
            {t('email')}: <strong>{me.data.email}</strong>{' '}
            {me.data.emailVerified ? <span className="badge">({t('emailVerified')})</span> : <span className="badge">({t('emailNotVerified')})</span>}
          </p>
          {!me.data.emailVerified ? (
            <div className="row">
              <Button variant="secondary" isPending={resend.isPending} onPress={() => resend.mutate()}>
                {t('resendVerification')}
              </Button>
              <Success>{resend.data ? t('verificationSent') : null}</Success>
              <ErrorMessage error={resend.error ?? undefined} />
            </div>
          ) : null}
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              const f = e.currentTarget;
              save.mutate({
                displayName: formValue(f, 'displayName').trim(),
                bio: formValue(f, 'bio'),
                locale: formValue(f, 'locale'),
                timezone: formValue(f, 'timezone'),
              });
            }}
          >
            <Field label={t('displayName')} name="displayName" defaultValue={me.data.displayName} isRequired maxLength={100} autoComplete="name" />
            <label className="field">
              <span>{t('bio')}</span>
              <textarea name="bio" defaultValue={me.data.bio} maxLength={2000} rows={3} />
            </label>
            <label className="field">
              <span>{t('profileLanguage')}</span>
              <select name="locale" defaultValue={supportedLocale(me.data.locale) ?? 'en'}>
                {LOCALES.map((l) => (
                  <option key={l} value={l} lang={l}>
                    {LOCALE_NAMES[l]}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>{t('timezone')}</span>
              <select name="timezone" defaultValue={me.data.timezone}>
                {(zones.includes(me.data.timezone) ? zones : [me.data.timezone, ...zones]).map((z) => (
                  <option key={z} value={z}>
                    {z}
                  </option>
                ))}
              </select>
            </label>
            <p className="muted">{t('avatarMissing')}</p>
            <ErrorMessage error={save.error ?? undefined} />
            <Success>{save.isSuccess && !save.isPending ? t('profileSaved') : null}</Success>
            <Button type="submit" isPending={save.isPending}>
              {t('save')}
            </Button>
          </Form>
        </>
      ) : null}
    </section>
  );
}

function PasswordSection() {
  const { t } = useAccountI18n();
  const queryClient = useQueryClient();
  const change = useMutation({
    mutationFn: (v: { currentPassword: string; newPassword: string }) => api.auth.changePassword.mutate(v),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['sessions'] }),
  });
  const [mismatch, setMismatch] = useState(false);
  return (
    <section aria-labelledby="password-h" className="card">
      <h2 id="password-h">{t('passwordTitle')}</h2>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          const f = e.currentTarget;
          const next = formValue(f, 'newPassword');
          setMismatch(next !== formValue(f, 'confirmPassword'));
          if (next !== formValue(f, 'confirmPassword')) return;
          change.mutate({ currentPassword: formValue(f, 'currentPassword'), newPassword: next }, { onSuccess: () => f.reset() });
        }}
      >
        <Field label={t('currentPassword')} name="currentPassword" type="password" isRequired autoComplete="current-password" />
        <NewPasswordFields mismatch={mismatch} />
        {errorCode(change.error) === 'INVALID_CREDENTIALS' ? (
          <ErrorMessage>{t('currentPasswordWrong')}</ErrorMessage>
        ) : (
          <ErrorMessage error={change.error ?? undefined} />
        )}
        <Success>{change.data ? t('passwordChanged', { n: change.data.otherSessionsRevoked }) : null}</Success>
        <Button type="submit" isPending={change.isPending}>
          {t('passwordChange')}
        </Button>
      </Form>
    </section>
  );
}

/** The QR code the API drew (SVG) as an image: an <img> never runs what an SVG holds, and the CSP allows data: images. */
function QrCode({ svg, label }: { svg: string; label: string }) {
  return <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`} alt={label} width={180} height={180} />;
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useAccountI18n();
  return (
    <div className="notice">
      <StepHeading level={3}>{t('recoveryCodesTitle')}</StepHeading>
      <p>{t('recoveryCodesBody')}</p>
      <ul className="codes" aria-label={t('recoveryCodesTitle')}>
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <Button variant="secondary" onPress={onDone}>
        {t('recoveryCodesSaved')}
      </Button>
    </div>
  );
}

function MfaSection() {
  const { t } = useAccountI18n();
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: ['mfa'], queryFn: () => api.auth.mfaStatus.query({}) });
  const [codes, setCodes] = useState<string[] | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['mfa'] });
  const enrol = useMutation({ mutationFn: (password: string) => api.auth.mfaEnrol.mutate({ password }) });
  const confirm = useMutation({
    mutationFn: (code: string) => api.auth.mfaConfirm.mutate({ code }),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      enrol.reset();
      void refresh();
    },
  });
  const disable = useMutation({
    mutationFn: (v: { password: string; code: string }) =>
      api.auth.mfaDisable.mutate({ password: v.password, ...(/^\d{6}$/.test(v.code) ? { code: v.code } : { recoveryCode: v.code }) }),
    onSuccess: async () => {
      await refresh();
      focusById('mfa-h'); // the form that had focus is gone
    },
  });
  const renew = useMutation({
    mutationFn: (code: string) => api.auth.mfaRecoveryCodes.mutate({ code }),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      void refresh();
    },
  });
  const wrongCode = (err: unknown) =>
    errorCode(err) === 'INVALID_CREDENTIALS' ? <ErrorMessage>{t('mfaWrongCode')}</ErrorMessage> : <ErrorMessage error={err ?? undefined} />;

  return (
    <section aria-labelledby="mfa-h" className="card">
      <h2 id="mfa-h" tabIndex={-1}>
        {t('mfaSettingsTitle')}
      </h2>
      {status.isPending ? <Loading /> : null}
      <ErrorMessage error={status.error ?? undefined} />
      {codes ? (
        <RecoveryCodes
          codes={codes}
          onDone={() => {
            setCodes(null);
            focusById('mfa-h'); // the button pressed is gone: go on from the section's start
          }}
        />
      ) : null}
      {status.data && !status.data.totp && !enrol.data ? (
        <>
          <p>{status.data.required ? t('mfaRequiredOff') : t('mfaOff')}</p>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              enrol.mutate(formValue(e.currentTarget, 'password'));
            }}
          >
            <Field label={t('password')} name="password" type="password" isRequired autoComplete="current-password" description={t('mfaEnrolHint')} />
            {errorCode(enrol.error) === 'INVALID_CREDENTIALS' ? (
              <ErrorMessage>{t('currentPasswordWrong')}</ErrorMessage>
            ) : (
              <ErrorMessage error={enrol.error ?? undefined} />
            )}
            <Button type="submit" isPending={enrol.isPending}>
              {t('mfaStart')}
            </Button>
          </Form>
        </>
      ) : null}
      {enrol.data ? (
        <div>
          <StepHeading level={3}>{t('mfaScanTitle')}</StepHeading>
          <p>{t('mfaScanBody')}</p>
          <QrCode svg={enrol.data.qrCodeSvg} label={t('mfaQrAlt')} />
          <p>
            {t('mfaSecret')}:{' '}
            <code className="secret" data-testid="totp-secret">
              {enrol.data.secret}
            </code>
          </p>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              confirm.mutate(formValue(e.currentTarget, 'code').trim());
            }}
          >
            <Field label={t('mfaCode')} name="code" isRequired inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} />
            {wrongCode(confirm.error)}
            <div className="row">
              <Button type="submit" isPending={confirm.isPending}>
                {t('mfaConfirm')}
              </Button>
              <Button variant="secondary" onPress={() => enrol.reset()}>
                {t('cancel')}
              </Button>
            </div>
          </Form>
        </div>
      ) : null}
      {status.data?.totp ? (
        <>
          <p>{t('mfaOn', { n: status.data.recoveryCodesLeft })}</p>
          <h3>{t('recoveryCodesNew')}</h3>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              const f = e.currentTarget;
              renew.mutate(formValue(f, 'code').trim(), { onSuccess: () => f.reset() });
            }}
          >
            <Field label={t('mfaCode')} name="code" isRequired inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} />
            {wrongCode(renew.error)}
            <Button type="submit" variant="secondary" isPending={renew.isPending}>
              {t('recoveryCodesNew')}
            </Button>
          </Form>
          <h3>{t('mfaDisable')}</h3>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              const f = e.currentTarget;
              disable.mutate({ password: formValue(f, 'password'), code: formValue(f, 'code').trim() });
            }}
          >
            <Field label={t('password')} name="password" type="password" isRequired autoComplete="current-password" />
            <Field label={t('mfaCodeOrRecovery')} name="code" isRequired autoComplete="one-time-code" maxLength={11} />
            {errorCode(disable.error) === 'INVALID_CREDENTIALS' ? (
              <ErrorMessage>{t('mfaDisableWrong')}</ErrorMessage>
            ) : (
              <ErrorMessage error={disable.error ?? undefined} />
            )}
            <Button type="submit" variant="secondary" isPending={disable.isPending}>
              {t('mfaDisable')}
            </Button>
          </Form>
        </>
      ) : null}
      <Success>{disable.isSuccess && status.data && !status.data.totp ? t('mfaDisabled') : null}</Success>
    </section>
  );
}

/** "Firefox on Linux" from a user agent, or the raw string when it names nothing we know. */
function deviceName(ua: string | null, unknown: string): string {
  if (!ua) return unknown;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : undefined;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  return browser && os ? `${browser} · ${os}` : (browser ?? ua.slice(0, 60));
}

function SessionsSection() {
  const { t, locale } = useAccountI18n();
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: () => api.auth.sessions.query({}) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sessions'] });
  const revoke = useMutation({
    mutationFn: (sessionId: string) => api.auth.revokeSession.mutate({ sessionId }),
    onSuccess: () => focusById('sessions-h'), // its row (and the button pressed) goes away
    onSettled: refresh,
  });
  // The API revokes one session, or all of them (this one too): "the others" are revoked one by one.
  const revokeOthers = useMutation({
    mutationFn: async (ids: string[]) => {
      for (const sessionId of ids) await api.auth.revokeSession.mutate({ sessionId });
      return ids.length;
    },
    onSettled: refresh,
  });
  const others = sessions.data?.items.filter((s) => !s.current) ?? [];

  return (
    <section aria-labelledby="sessions-h" className="card">
      <h2 id="sessions-h" tabIndex={-1}>
        {t('sessionsTitle')}
      </h2>
      {sessions.isPending ? <Loading /> : null}
      <ErrorMessage error={sessions.error ?? undefined} />
      {sessions.data ? (
        <ul className="sessions">
          {sessions.data.items.map((s) => (
            <li key={s.id} className="session">
              <div>
                <strong>{deviceName(s.userAgent, t('sessionUnknownDevice'))}</strong>
                {s.current ? <span className="badge"> ({t('sessionThis')})</span> : null}
                <div className="muted">
                  {s.ip ? `${s.ip} · ` : ''}
                  {t('sessionLastUsed', { when: formatDateTime(locale, s.lastUsedAt) })}
                </div>
              </div>
              {!s.current ? (
                <Button
                  variant="secondary"
                  isPending={revoke.isPending && revoke.variables === s.id}
                  onPress={() => revoke.mutate(s.id)}
                  aria-label={t('sessionRevokeNamed', { name: deviceName(s.userAgent, t('sessionUnknownDevice')), when: formatDateTime(locale, s.lastUsedAt) })}
                >
                  {t('sessionRevoke')}
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorMessage error={revoke.error ?? revokeOthers.error ?? undefined} />
      <Success>{revokeOthers.data !== undefined && !revokeOthers.isPending ? t('sessionsRevoked', { n: revokeOthers.data }) : null}</Success>
      {others.length > 0 ? (
        <Button variant="secondary" isPending={revokeOthers.isPending} onPress={() => revokeOthers.mutate(others.map((s) => s.id))}>
          {t('sessionsRevokeOthers')}
        </Button>
      ) : null}
    </section>
  );
}
