import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeHtml, pickLanguage, problemPage, VERIFY_PAGE_CSP, verificationPage } from '../src/verify-page.js';

const verification = {
  status: 'valid' as const,
  code: 'ABCD-EFGH-JKMN-PQRS',
  credentialId: '7b0a8a43-8f5e-4c39-9a55-0d1c8f7e2b11',
  learnerName: `<script>alert('x')</script>`,
  course: '"><img src=x onerror=alert(1)>',
  issuedAt: '2026-12-01T10:00:00.000Z',
  validUntil: null,
  issuer: 'LMS & Co',
  revocationReason: null,
  checks: { signature: true, statusList: true },
};

describe('the verification page', () => {
  it('escapes the five characters that matter in HTML text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    expect(escapeHtml('plain text, é ü')).toBe('plain text, é ü');
  });

  it('renders hostile names and titles as text, and no script at all', () => {
    const html = verificationPage(verification, 'en');
    expect(html).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('LMS &amp; Co');
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('<time datetime="2026-12-01T10:00:00.000Z">1 December 2026</time>');
  });

  it('shows a revocation reason only when the verification carries one (a public one)', () => {
    expect(verificationPage({ ...verification, status: 'revoked' }, 'en')).not.toContain('Reason');
    const shown = verificationPage({ ...verification, status: 'revoked', revocationReason: 'Issued <by> mistake' }, 'en');
    expect(shown).toContain('<dt>Reason</dt><dd>Issued &lt;by&gt; mistake</dd>');
    // A revocation reason on a certificate that is not revoked is not shown.
    expect(verificationPage({ ...verification, revocationReason: 'x' }, 'en')).not.toContain('Reason');
  });

  it('allows exactly its own inline style by hash, and nothing else', () => {
    const html = problemPage('notFound', 'en');
    const style = /<style>([^<]*)<\/style>/.exec(html)?.[1] ?? '';
    expect(VERIFY_PAGE_CSP).toBe(
      `default-src 'none'; style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
  });

  it('picks English or French from Accept-Language by preference, English otherwise', () => {
    expect(pickLanguage(undefined)).toBe('en');
    expect(pickLanguage('fr-CA')).toBe('fr');
    expect(pickLanguage('de-DE, fr;q=0.8, en;q=0.9')).toBe('en');
    expect(pickLanguage('en;q=0.2, fr;q=0.3')).toBe('fr');
    expect(pickLanguage('fr;q=0, en;q=0.1')).toBe('en');
    expect(pickLanguage('de, *;q=0.5')).toBe('en');
    expect(pickLanguage('FR')).toBe('fr');
  });
});
