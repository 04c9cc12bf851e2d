// Notification preferences: for each type of message and each channel, immediately, in a daily or weekly digest, or
// never (the in-app inbox: immediately or never; security emails always at once), quiet hours and the SMS number.
import type { DeliveryMode, NotificationChannel, NotificationPreferences, NotificationType } from '@lms/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { Form } from 'react-aria-components';
import { api } from '../api.ts';
import { useAccountI18n, type AccountKey } from './account-i18n.ts';
import { Button, ErrorMessage, Field, Loading, PageTitle } from '../ui.tsx';
import { Success } from './account-ui.tsx';
import { formValue } from './signin.tsx';

const typeKey: Record<NotificationType, AccountKey> = {
  security: 'typeSecurity',
  account: 'typeAccount',
  announcements: 'typeAnnouncements',
  assignments: 'typeAssignments',
  grades: 'typeGrades',
  discussions: 'typeDiscussions',
  course_updates: 'typeCourseUpdates',
  enrollments: 'typeEnrollments',
  privacy: 'typePrivacy',
};
const channelKey: Record<NotificationChannel, AccountKey> = { email: 'channelEmail', inApp: 'channelInApp', push: 'channelPush', sms: 'channelSms' };
const modeKey: Record<DeliveryMode, AccountKey> = { immediately: 'modeImmediately', daily: 'modeDaily', weekly: 'modeWeekly', never: 'modeNever' };
const allModes: DeliveryMode[] = ['immediately', 'daily', 'weekly', 'never'];
// From the tables above (typed by the contracts' unions, so a new type or channel fails the type check until it has a
// label): importing the contracts' arrays would bundle zod and every schema into this page.
const notificationTypes = Object.keys(typeKey) as NotificationType[];
const notificationChannels = Object.keys(channelKey) as NotificationChannel[];

export function NotificationPrefs() {
  const { t } = useAccountI18n();
  const prefs = useQuery({ queryKey: ['notificationPreferences'], queryFn: () => api.users.notificationPreferences.query({}) });
  return (
    <>
      <PageTitle>{t('prefsTitle')}</PageTitle>
      <p>
        <Link to="/settings">{t('settingsTitle')}</Link>
      </p>
      {prefs.isPending ? <Loading /> : null}
      <ErrorMessage error={prefs.error ?? undefined} />
      {prefs.data ? <PrefsForm prefs={prefs.data} /> : null}
    </>
  );
}

function PrefsForm({ prefs }: { prefs: NotificationPreferences }) {
  const { t } = useAccountI18n();
  const queryClient = useQueryClient();
  const [quiet, setQuiet] = useState(prefs.quietHours !== null);
  const save = useMutation({
    mutationFn: (input: Parameters<typeof api.users.setNotificationPreferences.mutate>[0]) => api.users.setNotificationPreferences.mutate(input),
    onSuccess: (saved) => queryClient.setQueryData(['notificationPreferences'], saved),
  });
  const mandatory = new Set(prefs.mandatory);

  return (
    <Form
      className="prefs"
      onSubmit={(e) => {
        e.preventDefault();
        const f = e.currentTarget;
        const types = Object.fromEntries(
          notificationTypes.map((type) => [
            type,
            Object.fromEntries(
              notificationChannels.filter((c) => !(mandatory.has(type) && c === 'email')).map((c) => [c, formValue(f, `${type}.${c}`) as DeliveryMode]),
            ),
          ]),
        ) as Partial<NotificationPreferences['types']>;
        const sms = formValue(f, 'smsNumber').replace(/\s+/g, '');
        save.mutate({
          types,
          quietHours: quiet ? { start: formValue(f, 'quietStart'), end: formValue(f, 'quietEnd') } : null,
          smsNumber: sms === '' ? null : sms,
        });
      }}
    >
      <p>{t('prefsIntro')}</p>
      <div className="prefs-grid">
        {notificationTypes.map((type) => (
          <fieldset key={type} className="prefs-type">
            <legend>{t(typeKey[type])}</legend>
            {mandatory.has(type) ? <p className="muted prefs-note">{t('prefsMandatory')}</p> : null}
            <div className="prefs-channels">
              {notificationChannels.map((c) => {
                const fixed = mandatory.has(type) && c === 'email';
                const modes = c === 'inApp' ? (['immediately', 'never'] as DeliveryMode[]) : allModes;
                return (
                  <label key={c} className="field">
                    <span>{t(channelKey[c])}</span>
                    <select name={`${type}.${c}`} defaultValue={prefs.types[type][c]} disabled={fixed} aria-describedby={fixed ? `fixed-${type}` : undefined}>
                      {modes.map((m) => (
                        <option key={m} value={m}>
                          {t(modeKey[m])}
                        </option>
                      ))}
                    </select>
                    {fixed ? (
                      <span id={`fixed-${type}`} className="sr-only">
                        {t('prefsMandatory')}
                      </span>
                    ) : null}
                  </label>
                );
              })}
            </div>
          </fieldset>
        ))}
      </div>

      <fieldset className="prefs-type">
        <legend>{t('quietTitle')}</legend>
        <p className="muted prefs-note">{t('quietBody')}</p>
        <label className="check">
          <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.target.checked)} name="quietOn" />
          {t('quietOn')}
        </label>
        {quiet ? (
          <div className="prefs-channels">
            <label className="field">
              <span>{t('quietStart')}</span>
              <input type="time" name="quietStart" required defaultValue={prefs.quietHours?.start ?? '22:00'} />
            </label>
            <label className="field">
              <span>{t('quietEnd')}</span>
              <input type="time" name="quietEnd" required defaultValue={prefs.quietHours?.end ?? '07:00'} />
            </label>
          </div>
        ) : null}
      </fieldset>

      <Field label={t('smsNumber')} name="smsNumber" type="tel" autoComplete="tel" defaultValue={prefs.smsNumber ?? ''} description={t('smsNumberHint')} />
      <ErrorMessage error={save.error ?? undefined} />
      <Success>{save.isSuccess && !save.isPending ? t('prefsSaved') : null}</Success>
      <Button type="submit" isPending={save.isPending}>
        {t('save')}
      </Button>
    </Form>
  );
}
