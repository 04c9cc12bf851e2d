// The header's search box on every page: an ARIA 1.2 combobox (input + listbox, aria-activedescendant) with titles
// from search.suggest as the person types (debounced), submitting to /search?q=. Written by hand rather than with
// React Aria's ComboBox, which would bring its popover and collection machinery into the initial bundle.
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useId, useState, type KeyboardEvent } from 'react';
import { api } from './api.ts';
import { useI18n, type MessageKey } from './i18n.ts';

const DEBOUNCE_MS = 200;
const MIN_CHARS = 2;

export const docTypeKey: Record<'course' | 'module' | 'lesson' | 'file', MessageKey> = {
  course: 'typeCourse',
  module: 'typeModule',
  lesson: 'typeLesson',
  file: 'typeFile',
};

export function SearchBox() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const id = useId();
  const [value, setValue] = useState('');
  const [prefix, setPrefix] = useState('');
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);

  useEffect(() => {
    const timer = setTimeout(() => setPrefix(value.trim()), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [value]);

  const suggest = useQuery({
    queryKey: ['suggest', prefix],
    queryFn: () => api.search.suggest.query({ q: prefix, limit: 8 }),
    enabled: prefix.length >= MIN_CHARS,
    staleTime: 30_000,
  });
  const items = prefix.length >= MIN_CHARS ? (suggest.data?.suggestions ?? []) : [];
  const expanded = open && items.length > 0;
  const listId = `${id}-list`;
  const optionId = (i: number) => `${id}-opt-${i}`;

  const go = (q: string) => {
    setOpen(false);
    setActive(-1);
    const text = q.trim();
    if (!text) return;
    setValue(text);
    void navigate({ to: '/search', search: { q: text } });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!items.length) return;
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setOpen(true);
      // From the input (-1), down goes to the first and up to the last; past either end, back to the input.
      setActive((a) => (!expanded ? (step > 0 ? 0 : items.length - 1) : a + step >= items.length || a + step < -1 ? -1 : a + step));
    } else if (e.key === 'Escape') {
      if (expanded) {
        e.preventDefault();
        setOpen(false);
        setActive(-1);
      } else if (value) {
        e.preventDefault();
        setValue('');
      }
    }
  };

  return (
    <form
      role="search"
      aria-label={t('searchSite')}
      className="header-search"
      onSubmit={(e) => {
        e.preventDefault();
        const picked = expanded && active >= 0 ? items[active] : undefined;
        go(picked ? picked.text : value);
      }}
    >
      <label htmlFor={`${id}-input`} className="sr-only">
        {t('searchLabel')}
      </label>
      <div className="combo">
        <input
          id={`${id}-input`}
          type="text"
          role="combobox"
          autoComplete="off"
          spellCheck={false}
          enterKeyHint="search"
          maxLength={200}
          placeholder={t('searchPlaceholder')}
          aria-autocomplete="list"
          aria-expanded={expanded}
          aria-controls={listId}
          aria-activedescendant={expanded && active >= 0 ? optionId(active) : undefined}
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
            setOpen(true);
            setActive(-1);
          }}
          onKeyDown={onKeyDown}
          onBlur={() => setOpen(false)}
        />
        <ul id={listId} role="listbox" aria-label={t('searchSuggestions')} className="combo-list" hidden={!expanded}>
          {items.map((s, i) => (
            <li
              key={`${s.courseId}-${s.type}-${s.text}`}
              id={optionId(i)}
              role="option"
              aria-selected={i === active}
              // Keeps focus in the input (no blur closing the list before the click).
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => go(s.text)}
            >
              <span>{s.text}</span> <span className="muted">{t(docTypeKey[s.type])}</span>
            </li>
          ))}
        </ul>
      </div>
      <button type="submit" className="btn btn-secondary">
        {t('searchSubmit')}
      </button>
    </form>
  );
}
