// One question of an attempt, by type, as native form controls: each question is a fieldset whose legend is its
// prompt (single, multiple, true/false, matching, ordering, cloze) or a labelled field (short, numerical, essay).
// `onChange` gets the whole new response; the attempt page saves it.
import type { PresentedQuestion, QuestionResponse } from '@lms/contracts';
import { useId } from 'react';
import { useAssessI18n } from './assess-i18n.ts';

type Props = { q: PresentedQuestion; response: QuestionResponse | null; onChange: (r: QuestionResponse) => void };

const words = (s: string) => s.trim().split(/\s+/).filter(Boolean).length;

export function QuestionInput({ q, response, onChange }: Props) {
  const { t } = useAssessI18n();
  const id = useId();
  const r = response;
  const legend = <legend className="q-prompt">{q.prompt}</legend>;
  switch (q.type) {
    case 'single': {
      const v = r?.type === 'single' ? r.choiceId : null;
      return (
        <fieldset className="question">
          {legend}
          {(q.choices ?? []).map((c) => (
            <label key={c.id} className="check">
              <input type="radio" name={`${id}-c`} checked={v === c.id} onChange={() => onChange({ type: 'single', choiceId: c.id })} />
              {c.text}
            </label>
          ))}
        </fieldset>
      );
    }
    case 'multiple': {
      const v = r?.type === 'multiple' ? r.choiceIds : [];
      return (
        <fieldset className="question">
          {legend}
          {(q.choices ?? []).map((c) => (
            <label key={c.id} className="check">
              <input
                type="checkbox"
                checked={v.includes(c.id)}
                onChange={(e) => onChange({ type: 'multiple', choiceIds: e.target.checked ? [...v, c.id] : v.filter((x) => x !== c.id) })}
              />
              {c.text}
            </label>
          ))}
        </fieldset>
      );
    }
    case 'truefalse': {
      const v = r?.type === 'truefalse' ? r.value : null;
      return (
        <fieldset className="question">
          {legend}
          {([true, false] as const).map((b) => (
            <label key={String(b)} className="check">
              <input type="radio" name={`${id}-tf`} checked={v === b} onChange={() => onChange({ type: 'truefalse', value: b })} />
              {b ? t('choiceTrue') : t('choiceFalse')}
            </label>
          ))}
        </fieldset>
      );
    }
    case 'short':
    case 'numerical':
    case 'calculated': {
      const type = q.type;
      const v = r && 'text' in r && r.type === type ? r.text : '';
      return (
        <fieldset className="question">
          {legend}
          <div className="field">
            <label htmlFor={`${id}-t`}>{t('answerLabel')}</label>
            <input
              id={`${id}-t`}
              type="text"
              inputMode={type === 'short' ? 'text' : 'decimal'}
              value={v}
              maxLength={type === 'short' ? 1000 : 100}
              aria-describedby={q.units?.length ? `${id}-u` : undefined}
              onChange={(e) => onChange({ type, text: e.target.value })}
            />
            {q.units?.length ? (
              <span id={`${id}-u`} className="muted">
                {t('unitsHint', { units: q.units.join(', ') })}
              </span>
            ) : null}
          </div>
        </fieldset>
      );
    }
    case 'matching': {
      const v = r?.type === 'matching' ? r.answers : {};
      return (
        <fieldset className="question">
          {legend}
          {(q.pairs ?? []).map((p) => (
            <div key={p.id} className="field">
              <label htmlFor={`${id}-${p.id}`}>{p.prompt}</label>
              <select
                id={`${id}-${p.id}`}
                value={v[p.id] ?? ''}
                onChange={(e) => onChange({ type: 'matching', answers: { ...v, [p.id]: e.target.value || null } })}
              >
                <option value="">{t('matchingPick')}</option>
                {(q.answers ?? []).map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            </div>
          ))}
        </fieldset>
      );
    }
    case 'ordering': {
      const items = q.items ?? [];
      const order = r?.type === 'ordering' && r.order.length === items.length ? r.order : items.map((i) => i.id);
      const text = (itemId: string) => items.find((i) => i.id === itemId)?.text ?? itemId;
      const move = (from: number, to: number) => {
        const next = [...order];
        const [x] = next.splice(from, 1);
        if (x !== undefined) next.splice(to, 0, x);
        onChange({ type: 'ordering', order: next });
        // Keep the keyboard on the moved item's button that still makes sense.
        requestAnimationFrame(() => document.getElementById(`${id}-${to}-${to < from ? 'up' : 'down'}`)?.focus());
      };
      return (
        <fieldset className="question" aria-describedby={`${id}-oh`}>
          {legend}
          <p id={`${id}-oh`} className="muted">
            {t('orderingHint')}
          </p>
          <ol className="ordering">
            {order.map((itemId, i) => (
              <li key={itemId}>
                <span>{text(itemId)}</span>
                <span className="ordering-buttons">
                  <button
                    type="button"
                    className="btn btn-secondary"
                    id={`${id}-${i}-up`}
                    disabled={i === 0}
                    onClick={() => move(i, i - 1)}
                    aria-label={t('moveUp', { item: text(itemId) })}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="btn btn-secondary"
                    id={`${id}-${i}-down`}
                    disabled={i === order.length - 1}
                    onClick={() => move(i, i + 1)}
                    aria-label={t('moveDown', { item: text(itemId) })}
                  >
                    ↓
                  </button>
                </span>
              </li>
            ))}
          </ol>
        </fieldset>
      );
    }
    case 'cloze': {
      const gaps = r?.type === 'cloze' ? r.gaps : {};
      const parts = (q.text ?? '').split(/(\{\{[^}]+\}\})/);
      let n = 0;
      const set = (gapId: string, g: (typeof gaps)[string]) => onChange({ type: 'cloze', gaps: { ...gaps, [gapId]: g } });
      return (
        <fieldset className="question">
          {legend}
          <p className="cloze">
            {parts.map((part, i) => {
              const m = /^\{\{([^}]+)\}\}$/.exec(part);
              const gap = m ? q.gaps?.find((g) => g.id === m[1]) : undefined;
              if (!gap) return <span key={i}>{part}</span>;
              n += 1;
              const name = t('gapLabel', { n });
              const cur = gaps[gap.id];
              if (gap.type === 'single' || gap.type === 'truefalse') {
                const value =
                  gap.type === 'single'
                    ? cur && 'choiceId' in cur
                      ? (cur.choiceId ?? '')
                      : ''
                    : cur && 'value' in cur && cur.value !== null
                      ? String(cur.value)
                      : '';
                const options =
                  gap.type === 'single'
                    ? (gap.choices ?? [])
                    : [
                        { id: 'true', text: t('choiceTrue') },
                        { id: 'false', text: t('choiceFalse') },
                      ];
                return (
                  <select
                    key={i}
                    aria-label={name}
                    className="gap"
                    value={value}
                    onChange={(e) =>
                      set(
                        gap.id,
                        gap.type === 'single' ? { choiceId: e.target.value || null } : { value: e.target.value === '' ? null : e.target.value === 'true' },
                      )
                    }
                  >
                    <option value="">{t('matchingPick')}</option>
                    {options.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.text}
                      </option>
                    ))}
                  </select>
                );
              }
              if (gap.type === 'multiple') {
                const v = cur && 'choiceIds' in cur ? cur.choiceIds : [];
                return (
                  <span key={i} role="group" aria-label={name} className="gap-group">
                    {(gap.choices ?? []).map((c) => (
                      <label key={c.id} className="check">
                        <input
                          type="checkbox"
                          checked={v.includes(c.id)}
                          onChange={(e) => set(gap.id, { choiceIds: e.target.checked ? [...v, c.id] : v.filter((x) => x !== c.id) })}
                        />
                        {c.text}
                      </label>
                    ))}
                  </span>
                );
              }
              return (
                <input
                  key={i}
                  type="text"
                  className="gap"
                  aria-label={name}
                  inputMode={gap.type === 'numerical' ? 'decimal' : 'text'}
                  value={cur && 'text' in cur ? cur.text : ''}
                  onChange={(e) => set(gap.id, { text: e.target.value })}
                />
              );
            })}
          </p>
        </fieldset>
      );
    }
    case 'essay': {
      const v = r?.type === 'essay' ? r.text : '';
      const limits =
        q.minWords && q.maxWords
          ? t('essayLimits', { min: q.minWords, max: q.maxWords })
          : q.minWords
            ? t('essayMin', { min: q.minWords })
            : q.maxWords
              ? t('essayMax', { max: q.maxWords })
              : '';
      return (
        <fieldset className="question">
          {legend}
          <div className="field field-wide">
            <label htmlFor={`${id}-e`}>{t('answerLabel')}</label>
            <textarea id={`${id}-e`} rows={8} value={v} aria-describedby={`${id}-w`} onChange={(e) => onChange({ type: 'essay', text: e.target.value })} />
            <span id={`${id}-w`} className="muted">
              {t('essayWords', { n: words(v) })} {limits}
            </span>
          </div>
        </fieldset>
      );
    }
    case 'file':
      return (
        <fieldset className="question">
          {legend}
          <p className="notice">{t('fileLater')}</p>
        </fieldset>
      );
  }
}

/** A saved response as text, for the review. */
export function responseText(q: PresentedQuestion, r: QuestionResponse | null, t: (k: 'choiceTrue' | 'choiceFalse') => string): string | null {
  if (!r) return null;
  const choice = (cid: string | null, list = q.choices) => list?.find((c) => c.id === cid)?.text ?? '';
  switch (r.type) {
    case 'single':
      return r.choiceId ? choice(r.choiceId) : null;
    case 'multiple':
      return r.choiceIds.length ? r.choiceIds.map((c) => choice(c)).join(', ') : null;
    case 'truefalse':
      return r.value === null ? null : r.value ? t('choiceTrue') : t('choiceFalse');
    case 'short':
    case 'numerical':
    case 'calculated':
    case 'essay':
      return r.text.trim() ? r.text : null;
    case 'matching':
      return (q.pairs ?? []).map((p) => `${p.prompt} → ${r.answers[p.id] ?? '—'}`).join('; ');
    case 'ordering':
      return r.order.map((id) => q.items?.find((i) => i.id === id)?.text ?? id).join(' → ');
    case 'cloze':
      return (q.gaps ?? [])
        .map((g) => {
          const v = r.gaps[g.id];
          if (!v) return '—';
          if ('text' in v) return v.text || '—';
          if ('choiceId' in v) return choice(v.choiceId, g.choices) || '—';
          if ('choiceIds' in v) return v.choiceIds.map((c) => choice(c, g.choices)).join(', ') || '—';
          return v.value === null ? '—' : v.value ? t('choiceTrue') : t('choiceFalse');
        })
        .join('; ');
    case 'file':
      return r.fileIds.length ? String(r.fileIds.length) : null;
  }
}

/** Whether a response counts as an answer (for "unanswered" in the submit confirmation). */
export function answered(r: QuestionResponse | null): boolean {
  if (!r) return false;
  switch (r.type) {
    case 'single':
      return r.choiceId !== null;
    case 'multiple':
      return r.choiceIds.length > 0;
    case 'truefalse':
      return r.value !== null;
    case 'matching':
      return Object.values(r.answers).some((v) => v);
    case 'ordering':
      return true;
    case 'cloze':
      return Object.keys(r.gaps).length > 0;
    case 'file':
      return r.fileIds.length > 0;
    default:
      return r.text.trim() !== '';
  }
}
