// Starts the app: theme and language before the first paint, the query cache, the router, and what happens when the
// session cannot be refreshed (sign in again, then back to the same page).
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { errorData } from '@lms/client';
import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { onSessionExpired } from './api.ts';
import { I18nContext, initialLocale, makeI18n, type Locale } from './i18n.ts';
import { router } from './router.tsx';
import { applyTheme, storedTheme } from './theme.ts';
import { focusTitleOnNextPage } from './ui.tsx';
import './styles.css';

applyTheme(storedTheme());

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      // A 4xx answer will not change by asking again; a lost connection or a 5xx may.
      retry: (count, err) => count < 2 && (errorData(err)?.httpStatus ?? 500) >= 500,
    },
  },
});

router.subscribe('onBeforeNavigate', (e) => {
  if (e.pathChanged && e.fromLocation) focusTitleOnNextPage();
});

onSessionExpired(() => {
  queryClient.clear();
  const here = router.state.location.href;
  if (router.state.location.pathname !== '/signin') void router.navigate({ to: '/signin', search: { redirect: here, expired: true } });
});

function Root() {
  const [locale, setLocale] = useState<Locale>(initialLocale);
  const i18n = useMemo(() => makeI18n(locale, setLocale), [locale]);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  return (
    <I18nContext.Provider value={i18n}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </I18nContext.Provider>
  );
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
