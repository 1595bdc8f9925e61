import { useEffect, useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { plainMessage } from '../errors.ts';
import { Notice } from '../forms.tsx';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

interface Mail {
  id: string;
  to: string;
  subject: string;
  text: string;
  created_at: string;
}

/**
 * Demo mode only (no SMTP server): the e-mail tagpay sent the signed-in handle — its verification
 * links, confirmation codes and receipts — so a new user can try everything on one machine. The
 * server answers 404 outside demo mode, and this page says so.
 */
export function MailboxPage() {
  const { session } = useSession();
  const [mails, setMails] = useState<Mail[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const signedIn = Boolean(session?.signed_in && session.handle);
  useEffect(() => {
    if (!signedIn) return;
    const load = () =>
      api<{ data: Mail[] }>('GET', '/v1/demo/mailbox').then(
        (r) => {
          setMails(r.data);
          setError(null);
        },
        (e) => setError(plainMessage(e)),
      );
    load();
    // Back from another tab (the link opened there): read again.
    window.addEventListener('focus', load);
    return () => window.removeEventListener('focus', load);
  }, [signedIn]);
  if (!session) return <Layout title="Demo mailbox">{null}</Layout>;
  if (!session.demo_mailbox)
    return (
      <Layout title="Demo mailbox">
        <p className="panel">
          The demo mailbox is only there in demo mode, when tagpay keeps its e-mail on this machine.
          Look in your own inbox.
        </p>
      </Layout>
    );
  if (!signedIn)
    return (
      <Layout title="Demo mailbox">
        <NeedsSignIn what="shopper" />
      </Layout>
    );
  return (
    <Layout title="Demo mailbox">
      <p className="lede">
        Demo mode: tagpay sends no real e-mail. Here is what it sent{' '}
        <strong>@{session.handle}</strong> — to the address on your profile and to the ones you
        asked to verify. <Link to="/onboarding">Back to setting up</Link>.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {mails === null && !error ? <p role="status">Loading…</p> : null}
      {mails && mails.length === 0 ? (
        <p className="muted">
          No e-mail yet. Ask for a verification link on the{' '}
          <Link to="/onboarding">set-up page</Link>.
        </p>
      ) : null}
      {mails && mails.length > 0 ? (
        <ol className="mails" aria-label="E-mails, newest first">
          {mails.map((m) => (
            <li key={m.id}>
              <article className="panel mail" aria-labelledby={`mail-${m.id}`}>
                <h2 id={`mail-${m.id}`}>{m.subject}</h2>
                <p className="muted small">
                  To {m.to} · {new Date(m.created_at).toLocaleString()}
                </p>
                <p className="mail-text">{linkify(m.text)}</p>
              </article>
            </li>
          ))}
        </ol>
      ) : null}
    </Layout>
  );
}

/** Web links in an e-mail's text as links (the text itself stays text: nothing is run as HTML). */
function linkify(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let at = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s]+/g)) {
    out.push(text.slice(at, m.index));
    out.push(
      <a key={m.index} href={m[0]} rel="noopener noreferrer" className="break">
        {m[0]}
      </a>,
    );
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}
