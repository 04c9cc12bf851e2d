// Pieces shared by the instructor pages (loaded with them): a multi-line field, the course status in words, and the
// save state of a form, which never says "saved" unless the server said so.
import type { Course } from '@lms/contracts';
import { useId, type ReactNode } from 'react';
import { FieldError, Label, Text, TextArea, TextField, type TextFieldProps } from 'react-aria-components';
import { errorText } from '../ui.tsx';
import { useTeachI18n, type TeachKey } from './teach-i18n.ts';
import './teach.css';

export function AreaField({ label, description, rows = 4, ...props }: TextFieldProps & { label: string; description?: string; rows?: number }) {
  const { t } = useTeachI18n();
  return (
    <TextField {...props} className="field field-wide">
      <Label>{label}</Label>
      <TextArea rows={rows} />
      {description ? <Text slot="description">{description}</Text> : null}
      <FieldError>{(v) => (v.validationDetails.valueMissing ? t('required') : v.validationErrors.join(' '))}</FieldError>
    </TextField>
  );
}

/** A native select with its own label element (a wrapping label would add the options' text to its name). */
export function SelectField({
  label,
  name,
  defaultValue,
  options,
}: {
  label: string;
  name: string;
  defaultValue: string;
  options: { value: string; label: string }[];
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} defaultValue={defaultValue}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

const statusKeys: Record<Course['status'], TeachKey> = {
  draft: 'statusDraft',
  in_review: 'statusInReview',
  published: 'statusPublished',
  archived: 'statusArchived',
};

export function useStatusLabel() {
  const { tt } = useTeachI18n();
  return (s: Course['status']) => tt(statusKeys[s]);
}

/** The draft/published state of a course: its status, the version learners see, and whether the draft differs. */
export function SnapshotState({ course }: { course: Course }) {
  const { tt } = useTeachI18n();
  const label = useStatusLabel();
  return (
    <p className="snapshot">
      <span className={`pill pill-${course.status}`}>{tt('status', { s: label(course.status) })}</span>
      <span>{course.version > 0 ? tt('versionPublished', { n: course.version }) : tt('versionNone')}</span>
      {course.version > 0 ? (
        course.hasUnpublishedChanges ? (
          <span className="pill pill-changes">{tt('unpublishedChanges')}</span>
        ) : (
          <span className="muted">{tt('upToDate')}</span>
        )
      ) : null}
    </p>
  );
}

/**
 * Where a form's save stands, in a live region: unsaved edits, saving, saved (only after the server answered), or
 * the failure in people's words.
 */
export function SaveState({ dirty, pending, saved, error }: { dirty: boolean; pending: boolean; saved: boolean; error: unknown }) {
  const i18n = useTeachI18n();
  const { tt } = i18n;
  let body: ReactNode = null;
  if (pending) body = <span>{tt('saving')}</span>;
  else if (error) body = <span className="error">{tt('notSaved', { reason: errorText(i18n, error) })}</span>;
  else if (dirty) body = <span className="muted">{tt('unsaved')}</span>;
  else if (saved) body = <span className="done">✓ {tt('saved')}</span>;
  return (
    <p className="save-state" role="status">
      {body}
    </p>
  );
}
