// The course editor: the working copy (courses.content, version=draft) of a course its staff may edit. Details
// (courses.update), publishing (submitForReview / publish / archive, with the version learners see and whether the
// draft has unpublished changes), modules and lessons (add, rename, delete, move up / move down with the keyboard,
// courses.reorder) and a Markdown lesson editor whose preview renders the way the player does (LessonMarkdown).
// A form says "saved" only once the server answered; a failure says it was not saved and why.
import type { Course, CourseContent } from '@lms/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useDeferredValue, useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { LessonMarkdown } from '../markdown.tsx';
import { courseLevels } from '../search.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { levelKey } from './catalogue.tsx';
import { formValue } from './signin.tsx';
import { useTeachI18n, type TeachKey } from './teach-i18n.ts';
import { AreaField, SaveState, SelectField, SnapshotState, useStatusLabel } from './teach-ui.tsx';

const route = getRouteApi('/teach/$courseId');
type Module = CourseContent['modules'][number];
type LessonItem = Module['lessons'][number];

const contentKey = (courseId: string) => ['teach', 'content', courseId];

function useContent(courseId: string) {
  return useQuery<CourseContent>({
    queryKey: contentKey(courseId),
    queryFn: () => api.courses.content.query({ courseId, version: 'draft' }),
  });
}

/** Puts a course the API answered into the cached working copy (and the teaching list, next time it loads). */
function useSetCourse(courseId: string) {
  const queryClient = useQueryClient();
  return async (course: Course) => {
    queryClient.setQueryData<CourseContent>(contentKey(courseId), (old) => (old ? { ...old, course } : old));
    await queryClient.invalidateQueries({ queryKey: ['teach', 'list'] });
  };
}

const visibilityKeys = { public: 'visibilityPublic', unlisted: 'visibilityUnlisted', private: 'visibilityPrivate' } as const satisfies Record<
  Course['visibility'],
  TeachKey
>;

function Details({ course }: { course: Course }) {
  const { t, tt } = useTeachI18n();
  const setCourse = useSetCourse(course.id);
  const [dirty, setDirty] = useState(false);
  const save = useMutation({
    mutationFn: (input: Parameters<typeof api.courses.update.mutate>[0]) => api.courses.update.mutate(input),
    onSuccess: async (c) => {
      setDirty(false);
      await setCourse(c);
    },
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = e.currentTarget;
    const duration = Number(formValue(f, 'durationMinutes') || '0');
    save.mutate({
      courseId: course.id,
      title: formValue(f, 'title'),
      summary: formValue(f, 'summary'),
      description: formValue(f, 'description'),
      category: formValue(f, 'category'),
      level: courseLevels.find((l) => l === formValue(f, 'level')),
      language: formValue(f, 'language'),
      visibility: (['public', 'unlisted', 'private'] as const).find((v) => v === formValue(f, 'visibility')),
      durationMinutes: Number.isFinite(duration) ? Math.trunc(duration) : undefined,
      sequential: new FormData(f).get('sequential') === 'on',
    });
  };
  return (
    <section className="teach-section" aria-labelledby="details">
      <h2 id="details">{tt('detailsTitle')}</h2>
      {/* Any field's change (bubbling from the inputs) marks the form as unsaved. */}
      <div
        onChange={() => {
          setDirty(true);
          save.reset();
        }}
      >
        <Form onSubmit={submit}>
          <Field label={tt('teachCourseTitle')} name="title" defaultValue={course.title} isRequired minLength={3} maxLength={200} />
          <AreaField label={tt('summary')} name="summary" defaultValue={course.summary} maxLength={500} rows={2} />
          <AreaField label={tt('description')} name="description" defaultValue={course.description} maxLength={20_000} rows={5} />
          <Field label={tt('teachCategory')} name="category" defaultValue={course.category} isRequired maxLength={60} description={tt('teachCategoryHint')} />
          <SelectField label={tt('level')} name="level" defaultValue={course.level} options={courseLevels.map((l) => ({ value: l, label: t(levelKey[l]) }))} />
          <Field label={tt('courseLanguage')} name="language" defaultValue={course.language} maxLength={20} description={tt('courseLanguageHint')} />
          <SelectField
            label={tt('visibility')}
            name="visibility"
            defaultValue={course.visibility}
            options={(Object.keys(visibilityKeys) as Course['visibility'][]).map((v) => ({ value: v, label: tt(visibilityKeys[v]) }))}
          />
          <Field label={tt('duration')} name="durationMinutes" type="number" inputMode="numeric" defaultValue={String(course.durationMinutes)} />
          <label className="checkbox-field">
            <input type="checkbox" name="sequential" defaultChecked={course.sequential} />
            <span>{tt('sequential')}</span>
          </label>
          <div className="row">
            <Button type="submit" isPending={save.isPending}>
              {tt('save')}
            </Button>
            <SaveState dirty={dirty} pending={save.isPending} saved={save.isSuccess} error={save.error} />
          </div>
        </Form>
      </div>
    </section>
  );
}

function Lifecycle({ course }: { course: Course }) {
  const { tt } = useTeachI18n();
  const label = useStatusLabel();
  const setCourse = useSetCourse(course.id);
  const queryClient = useQueryClient();
  const change = useMutation({
    mutationFn: (action: 'submitForReview' | 'publish' | 'archive') => api.courses[action].mutate({ courseId: course.id }),
    onSuccess: async (c) => {
      await setCourse(c);
      await queryClient.invalidateQueries({ queryKey: ['catalog'] });
    },
  });
  const canPublish = course.status === 'draft' || course.status === 'in_review' || (course.status === 'published' && course.hasUnpublishedChanges);
  return (
    <section className="teach-section" aria-labelledby="lifecycle">
      <h2 id="lifecycle">{tt('lifecycleTitle')}</h2>
      <SnapshotState course={course} />
      <p className="muted">{tt('lifecycleHint')}</p>
      <div className="row">
        {course.status === 'draft' ? (
          <Button variant="secondary" isPending={change.isPending} onPress={() => change.mutate('submitForReview')}>
            {tt('submitForReview')}
          </Button>
        ) : null}
        {canPublish ? (
          <Button isPending={change.isPending} onPress={() => change.mutate('publish')}>
            {course.status === 'published' ? tt('publishChanges') : tt('publish')}
          </Button>
        ) : null}
        {course.status === 'published' ? (
          <Button variant="secondary" isPending={change.isPending} onPress={() => change.mutate('archive')}>
            {tt('archive')}
          </Button>
        ) : null}
        {course.version > 0 ? (
          <Link to="/courses/$courseId" params={{ courseId: course.id }}>
            {tt('viewPublic')}
          </Link>
        ) : null}
      </div>
      <p role="status" className="save-state">
        {change.isSuccess ? <span className="done">✓ {tt('lifecycleDone', { s: label(change.data.status) })}</span> : null}
      </p>
      {change.isError ? <ErrorMessage error={change.error} /> : null}
    </section>
  );
}

/**
 * Where focus goes once the outline re-rendered with the server's new order (a moved row's button, its neighbour when
 * it became disabled). A move re-orders DOM nodes, which blurs the focused one: the outline's layout effect puts focus
 * back after the commit that shows the new data (the query's notification comes a task after the refetch resolves).
 */
let pendingFocus: string[] | null = null;
function takeFocus(): boolean {
  if (!pendingFocus) return false;
  for (const id of pendingFocus) {
    const el = document.getElementById(id);
    if (el && !el.hasAttribute('disabled') && el.getAttribute('aria-disabled') !== 'true') {
      pendingFocus = null;
      el.focus();
      return true;
    }
  }
  return false;
}

interface Change {
  run: () => Promise<unknown>;
  done: string;
  focus?: string[];
  after?: () => Promise<unknown>;
}

function useChange(courseId: string) {
  const queryClient = useQueryClient();
  const [announcement, setAnnouncement] = useState('');
  const m = useMutation({
    mutationFn: async (c: Change) => {
      await c.run();
      return c;
    },
    onMutate: () => setAnnouncement(''),
    onSuccess: async (c) => {
      if (c.focus) pendingFocus = c.focus;
      await queryClient.invalidateQueries({ queryKey: contentKey(courseId) });
      setAnnouncement(c.done);
      await c.after?.();
      // Nothing re-rendered (the answer changed nothing shown): focus now.
      requestAnimationFrame(() => takeFocus());
    },
  });
  return { ...m, announcement };
}

function Confirm({ title, onYes, onNo, pending }: { title: string; onYes: () => void; onNo: () => void; pending: boolean }) {
  const { tt } = useTeachI18n();
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div className="notice row" role="group" aria-label={tt('deleteNamed', { title })}>
      <p ref={ref} tabIndex={-1}>
        {tt('confirmDelete', { title })}
      </p>
      <Button isPending={pending} onPress={onYes}>
        {tt('confirmDeleteYes')}
      </Button>
      <Button variant="secondary" onPress={onNo}>
        {tt('cancel')}
      </Button>
    </div>
  );
}

function RenameForm({ title, onSave, onCancel, pending }: { title: string; onSave: (t: string) => void; onCancel: () => void; pending: boolean }) {
  const { tt } = useTeachI18n();
  return (
    <Form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(formValue(e.currentTarget, 'title'));
      }}
    >
      <Field label={tt('renameLabel', { title })} name="title" defaultValue={title} isRequired maxLength={200} autoFocus />
      <Button type="submit" isPending={pending}>
        {tt('save')}
      </Button>
      <Button variant="secondary" onPress={onCancel}>
        {tt('cancel')}
      </Button>
    </Form>
  );
}

/** Move up / Move down / Rename / Delete for one module or lesson; ids let focus follow the row after a move. */
function RowTools({
  id,
  title,
  first,
  last,
  pending,
  onMove,
  onRename,
  onDelete,
}: {
  id: string;
  title: string;
  first: boolean;
  last: boolean;
  pending: boolean;
  onMove: (dir: -1 | 1) => void;
  onRename: () => void;
  onDelete: () => void;
}) {
  const { tt } = useTeachI18n();
  return (
    <div className="row">
      <Button
        id={`mv-${id}-up`}
        variant="secondary"
        isDisabled={first}
        isPending={pending}
        aria-label={tt('moveUpNamed', { title })}
        onPress={() => onMove(-1)}
      >
        <span aria-hidden="true">↑ </span>
        {tt('moveUp')}
      </Button>
      <Button
        id={`mv-${id}-down`}
        variant="secondary"
        isDisabled={last}
        isPending={pending}
        aria-label={tt('moveDownNamed', { title })}
        onPress={() => onMove(1)}
      >
        <span aria-hidden="true">↓ </span>
        {tt('moveDown')}
      </Button>
      <Button variant="secondary" aria-label={tt('renameNamed', { title })} onPress={onRename}>
        {tt('rename')}
      </Button>
      <Button variant="secondary" aria-label={tt('deleteNamed', { title })} onPress={onDelete}>
        {tt('delete')}
      </Button>
    </div>
  );
}

/** The sibling a row goes after when moved one place up or down (null: first), as courses.reorder takes it. */
function afterFor<T extends { id: string }>(list: T[], index: number, dir: -1 | 1): string | null {
  if (dir === -1) return index >= 2 ? (list[index - 2]?.id ?? null) : null;
  return list[index + 1]?.id ?? null;
}

type Editing = { kind: 'rename' | 'delete'; id: string } | null;

function Outline({ content, currentLesson }: { content: CourseContent; currentLesson?: string }) {
  const { tt } = useTeachI18n();
  const courseId = content.course.id;
  const navigate = route.useNavigate();
  const change = useChange(courseId);
  const [editing, setEditing] = useState<Editing>(null);
  const modules = content.modules;
  useLayoutEffect(() => void takeFocus(), [content]);

  const move = (kind: 'module' | 'lesson', list: { id: string; title: string }[], index: number, dir: -1 | 1) => {
    const item = list[index];
    if (!item) return;
    const after = afterFor(list, index, dir);
    change.mutate({
      run: () => api.courses.reorder.mutate(kind === 'module' ? { courseId, moduleId: item.id, after } : { courseId, lessonId: item.id, after }),
      done: tt('moved', { title: item.title, n: index + dir + 1 }),
      focus: dir === -1 ? [`mv-${item.id}-up`, `mv-${item.id}-down`] : [`mv-${item.id}-down`, `mv-${item.id}-up`],
    });
  };
  const rename = (kind: 'module' | 'lesson', id: string, title: string) =>
    change.mutate({
      run: () => (kind === 'module' ? api.courses.updateModule.mutate({ moduleId: id, title }) : api.courses.updateLesson.mutate({ lessonId: id, title })),
      done: tt('saved'),
      after: async () => setEditing(null),
    });
  const remove = (kind: 'module' | 'lesson', id: string, title: string) =>
    change.mutate({
      run: () => (kind === 'module' ? api.courses.deleteModule.mutate({ moduleId: id }) : api.courses.deleteLesson.mutate({ lessonId: id })),
      done: tt('deleted', { title }),
      focus: ['outline-title'],
      after: async () => {
        setEditing(null);
        if (kind === 'lesson' && currentLesson === id) await navigate({ search: {} });
      },
    });

  const rowTools = (kind: 'module' | 'lesson', list: { id: string; title: string }[], index: number) => {
    const item = list[index];
    if (!item) return null;
    if (editing?.id === item.id && editing.kind === 'rename')
      return <RenameForm title={item.title} pending={change.isPending} onSave={(title) => rename(kind, item.id, title)} onCancel={() => setEditing(null)} />;
    if (editing?.id === item.id && editing.kind === 'delete')
      return <Confirm title={item.title} pending={change.isPending} onYes={() => remove(kind, item.id, item.title)} onNo={() => setEditing(null)} />;
    return (
      <RowTools
        id={item.id}
        title={item.title}
        first={index === 0}
        last={index === list.length - 1}
        pending={change.isPending}
        onMove={(dir) => move(kind, list, index, dir)}
        onRename={() => setEditing({ kind: 'rename', id: item.id })}
        onDelete={() => setEditing({ kind: 'delete', id: item.id })}
      />
    );
  };

  return (
    <section className="teach-section" aria-labelledby="outline-title">
      <h2 id="outline-title" tabIndex={-1}>
        {tt('outlineTitle')}
      </h2>
      <p role="status" className="save-state">
        {change.announcement}
      </p>
      {change.isError ? <ErrorMessage error={change.error} /> : null}
      {modules.length === 0 ? <p>{tt('outlineEmpty')}</p> : null}
      <ol className="outline-edit">
        {modules.map((m, mi) => (
          <li key={m.id} className="module-card">
            <h3>{m.title}</h3>
            {rowTools('module', modules, mi)}
            {m.lessons.length === 0 ? <p className="muted">{tt('noLessons')}</p> : null}
            <ol className="lesson-rows" aria-label={m.title}>
              {m.lessons.map((l, li) => (
                <li key={l.id} className="lesson-row" aria-current={l.id === currentLesson ? 'true' : undefined}>
                  <span className="lesson-row-title">
                    <Link to="/teach/$courseId" params={{ courseId }} search={{ lesson: l.id }} aria-label={tt('editNamed', { title: l.title })}>
                      {l.title}
                    </Link>
                  </span>
                  {rowTools('lesson', m.lessons, li)}
                </li>
              ))}
            </ol>
            <AddLesson module={m} />
          </li>
        ))}
      </ol>
      <AddModule courseId={courseId} />
    </section>
  );
}

function AddModule({ courseId }: { courseId: string }) {
  const { tt } = useTeachI18n();
  const change = useChange(courseId);
  const [key, setKey] = useState(0);
  return (
    <Form
      key={key}
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        const title = formValue(e.currentTarget, 'title');
        change.mutate({
          run: () => api.courses.createModule.mutate({ courseId, title }),
          done: tt('added', { title }),
          after: async () => setKey((k) => k + 1),
        });
      }}
    >
      <Field label={tt('moduleTitle')} name="title" isRequired maxLength={200} />
      <Button type="submit" isPending={change.isPending}>
        {tt('addModule')}
      </Button>
      <p role="status" className="save-state">
        {change.announcement}
      </p>
      {change.isError ? <ErrorMessage error={change.error} /> : null}
    </Form>
  );
}

function AddLesson({ module: m }: { module: Module }) {
  const { tt } = useTeachI18n();
  const navigate = route.useNavigate();
  const change = useChange(m.courseId);
  const [key, setKey] = useState(0);
  return (
    <Form
      key={key}
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        const title = formValue(e.currentTarget, 'title');
        let created: string | undefined;
        change.mutate({
          run: async () => {
            created = (await api.courses.createLesson.mutate({ moduleId: m.id, title, content: { type: 'markdown', body: '' } })).id;
          },
          done: tt('added', { title }),
          after: async () => {
            setKey((k) => k + 1);
            if (created) await navigate({ search: { lesson: created } });
          },
        });
      }}
    >
      <Field label={tt('addLessonTo', { title: m.title })} name="title" isRequired maxLength={200} />
      <Button type="submit" isPending={change.isPending}>
        {tt('addLesson')}
      </Button>
      {change.isError ? <ErrorMessage error={change.error} /> : null}
    </Form>
  );
}

function LessonEditor({ lesson, courseId }: { lesson: LessonItem; courseId: string }) {
  const { tt } = useTeachI18n();
  const queryClient = useQueryClient();
  const heading = useRef<HTMLHeadingElement>(null);
  const markdown = lesson.content.type === 'markdown';
  const [title, setTitle] = useState(lesson.title);
  const [body, setBody] = useState(lesson.content.type === 'markdown' ? lesson.content.body : '');
  const [dirty, setDirty] = useState(false);
  const shown = useDeferredValue(body);
  useEffect(() => heading.current?.focus(), []);
  const save = useMutation({
    mutationFn: () => api.courses.updateLesson.mutate({ lessonId: lesson.id, title, ...(markdown ? { content: { type: 'markdown' as const, body } } : {}) }),
    onSuccess: async () => {
      setDirty(false);
      await queryClient.invalidateQueries({ queryKey: contentKey(courseId) });
    },
  });
  const edited = () => {
    setDirty(true);
    save.reset();
  };
  return (
    <section className="teach-section" aria-labelledby="lesson-editor">
      <h2 id="lesson-editor" ref={heading} tabIndex={-1}>
        {tt('lessonEditorTitle', { title: lesson.title })}
      </h2>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Field
          label={tt('lessonTitle')}
          name="title"
          value={title}
          onChange={(v) => {
            setTitle(v);
            edited();
          }}
          isRequired
          maxLength={200}
        />
        {markdown ? (
          <div className="editor-grid field-wide">
            <AreaField
              label={tt('lessonBody')}
              name="body"
              rows={14}
              value={body}
              onChange={(v) => {
                setBody(v);
                edited();
              }}
              description={tt('lessonBodyHint')}
            />
            <section className="preview" aria-labelledby="preview-title">
              <h3 id="preview-title">{tt('preview')}</h3>
              {shown.trim() ? <LessonMarkdown body={shown} /> : <p className="muted">{tt('previewEmpty')}</p>}
            </section>
          </div>
        ) : (
          <p className="notice">{tt('lessonNotMarkdown', { type: lesson.content.type })}</p>
        )}
        <div className="row">
          <Button type="submit" isPending={save.isPending}>
            {tt('save')}
          </Button>
          <SaveState dirty={dirty} pending={save.isPending} saved={save.isSuccess} error={save.error} />
          <Link to="/teach/$courseId" params={{ courseId }} search={{}}>
            {tt('closeLesson')}
          </Link>
        </div>
      </Form>
    </section>
  );
}

export function CourseEditor() {
  const { tt } = useTeachI18n();
  const { courseId } = route.useParams();
  const search = route.useSearch();
  const content = useContent(courseId);
  if (content.isError) return <ErrorMessage error={content.error} />;
  if (!content.data) return <Loading />;
  const c = content.data.course;
  const lesson = search.lesson ? content.data.modules.flatMap((m) => m.lessons).find((l) => l.id === search.lesson) : undefined;
  return (
    <>
      <p className="row">
        <Link to="/teach">{tt('teachBack')}</Link>
        <Link to="/teach/$courseId/people" params={{ courseId }}>
          {tt('teachRoster')}
        </Link>
      </p>
      <PageTitle>{tt('editorTitle', { title: c.title })}</PageTitle>
      <Lifecycle course={c} />
      {lesson ? <LessonEditor key={lesson.id} lesson={lesson} courseId={courseId} /> : null}
      <Outline content={content.data} currentLesson={lesson?.id} />
      <Details key={c.id} course={c} />
    </>
  );
}
