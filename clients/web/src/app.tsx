// The frame around every page: skip link, header (navigation, language, theme, session), the page, and focus moved to
// the new page's heading after each navigation (ui.tsx, PageTitle) so that keyboard and screen-reader users land on it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useNavigate } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { Switch } from 'react-aria-components';
import { api } from './api.ts';
import { LOCALES, useI18n, supportedLocale, type Locale } from './i18n.ts';
import { useSession, sessionStore } from './session.ts';
import { SearchBox } from './search-box.tsx';
import { applyTheme, storedTheme, systemTheme } from './theme.ts';
import { Button, PageTitle } from './ui.tsx';

const LOCALE_NAMES: Record<Locale, string> = { en: 'English', fr: 'Français' };

function ThemeSwitch() {
  const { t } = useI18n();
  const [dark, setDark] = useState(() => (storedTheme() ?? systemTheme()) === 'dark');
  return (
    <Switch
      className="switch"
      isSelected={dark}
      onChange={(on) => {
        setDark(on);
        applyTheme(on ? 'dark' : 'light');
      }}
    >
      <span className="switch-track" aria-hidden="true">
        <span className="switch-thumb" />
      </span>
      {t('themeDark')}
    </Switch>
  );
}

function LanguagePicker() {
  const { t, locale, setLocale } = useI18n();
  const session = useSession();
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (l: Locale) => api.users.updateMe.mutate({ locale: l }),
    onSuccess: (profile) => queryClient.setQueryData(['me', profile.id], profile),
  });
  return (
    <label className="inline-field">
      <span>{t('language')}</span>
      <select
        value={locale}
        onChange={(e) => {
          const l = supportedLocale(e.target.value) ?? 'en';
          localStorage.setItem('lms.locale', l);
          setLocale(l);
          if (session) save.mutate(l);
        }}
      >
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LOCALE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}

export function App() {
  const { t, locale, setLocale } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  // The profile's locale wins over the browser's once signed in.
  const me = useQuery({ queryKey: ['me', session?.user.id], queryFn: () => api.users.me.query({}), enabled: !!session, staleTime: 60_000 });
  const profileLocale = supportedLocale(me.data?.locale);
  useEffect(() => {
    if (profileLocale && profileLocale !== locale) setLocale(profileLocale);
  }, [profileLocale]);

  const signOut = async () => {
    await api.auth.logout.mutate({}).catch(() => undefined); // the session ends here whatever the server said
    sessionStore.clear();
    queryClient.clear();
    await navigate({ to: '/' });
  };

  return (
    <>
      <a className="skip-link" href="#main">
        {t('skipToContent')}
      </a>
      <header className="site-header">
        <Link to="/" className="brand">
          {t('appName')}
        </Link>
        <nav aria-label={t('mainNav')}>
          <ul>
            <li>
              <Link to="/" activeOptions={{ exact: true, includeSearch: false }}>
                {t('navCatalogue')}
              </Link>
            </li>
            {session ? (
              <>
                <li>
                  <Link to="/dashboard">{t('navDashboard')}</Link>
                </li>
                <li>
                  <Link to="/certificates">{t('navCertificates')}</Link>
                </li>
                <li>
                  <Link to="/notifications">{t('navNotifications')}</Link>
                </li>
                <li>
                  <Link to="/settings" activeOptions={{ exact: true }}>
                    {t('navSettings')}
                  </Link>
                </li>
              </>
            ) : null}
            {session?.user.roles.some((r) => r === 'instructor' || r === 'admin') ? (
              <li>
                <Link to="/teach">{t('navTeaching')}</Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <SearchBox />
        <div className="header-tools">
          <LanguagePicker />
          <ThemeSwitch />
          {session ? (
            <>
              <span className="muted user-name">{session.user.displayName}</span>
              <Button variant="secondary" onPress={() => void signOut()}>
                {t('navSignOut')}
              </Button>
            </>
          ) : (
            <>
              <Link to="/signin" search={{}} className="btn btn-secondary">
                {t('navSignIn')}
              </Link>
              <Link to="/signup" search={{}} className="btn btn-primary">
                {t('navSignUp')}
              </Link>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

export function NotFound() {
  const { t } = useI18n();
  return (
    <>
      <PageTitle>{t('notFoundTitle')}</PageTitle>
      <p>{t('notFoundBody')}</p>
      <Link to="/">{t('navCatalogue')}</Link>
    </>
  );
}
