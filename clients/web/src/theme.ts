// Light and dark themes: the system's (prefers-color-scheme) until the person picks one with the header's switch;
// the pick is kept in localStorage and set as data-theme on <html>, which the stylesheet reads.
export type Theme = 'light' | 'dark';

export function systemTheme(): Theme {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function storedTheme(): Theme | null {
  const v = localStorage.getItem('lms.theme');
  return v === 'light' || v === 'dark' ? v : null;
}

export function applyTheme(theme: Theme | null) {
  if (theme) {
    localStorage.setItem('lms.theme', theme);
    document.documentElement.dataset.theme = theme;
  } else {
    localStorage.removeItem('lms.theme');
    delete document.documentElement.dataset.theme;
  }
}
