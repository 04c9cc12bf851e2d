// The learner's certificates (credentials.mine): status, dates, the verification code, the printable PDF (fetched
// through the typed client as base64, saved as a file) and the public verification page.
import type { CredentialSummary } from '@lms/contracts';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';
import './assess.css';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { formatDateTime } from './account-ui.tsx';
import { useAssessI18n } from './assess-i18n.ts';

function download(filename: string, base64: string) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/pdf' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Certificate({ c }: { c: CredentialSummary }) {
  const { t, locale } = useAssessI18n();
  const pdf = useMutation({
    mutationFn: () => api.credentials.pdf.query({ id: c.id }),
    onSuccess: (f) => download(f.filename, f.base64),
  });
  const status = { active: t('certificateActive'), revoked: t('certificateRevoked'), expired: t('certificateExpired') }[c.status];
  return (
    <li className="card certificate">
      <h2>{c.courseTitle}</h2>
      <p>
        <span className={`badge status-${c.status}`}>{status}</span> {t('certificateIssued', { date: formatDateTime(locale, c.issuedAt) })}
        {c.validUntil ? ` · ${t('certificateValidUntil', { date: formatDateTime(locale, c.validUntil) })}` : ''}
      </p>
      {c.revocationReason ? <p>{t('certificateRevokedReason', { reason: c.revocationReason })}</p> : null}
      <p>{t('certificateCode', { code: c.code })}</p>
      <div className="actions">
        <Button variant="secondary" isPending={pdf.isPending} onPress={() => pdf.mutate()}>
          {t('certificatePdf')}
        </Button>
        <a href={c.verifyUrl} className="btn btn-secondary">
          {t('certificateVerify')}
        </a>
      </div>
      {pdf.isError ? <ErrorMessage error={pdf.error} /> : null}
    </li>
  );
}

export function Certificates() {
  const { t } = useAssessI18n();
  const mine = useQuery({ queryKey: ['credentials'], queryFn: () => api.credentials.mine.query({}) });
  if (mine.isError) return <ErrorMessage error={mine.error} />;
  if (!mine.data) return <Loading />;
  return (
    <div className="assess">
      <PageTitle>{t('certificatesTitle')}</PageTitle>
      {mine.data.items.length === 0 ? (
        <p>{t('certificatesNone')}</p>
      ) : (
        <ul className="certificates">
          {mine.data.items.map((c) => (
            <Certificate key={c.id} c={c} />
          ))}
        </ul>
      )}
    </div>
  );
}
