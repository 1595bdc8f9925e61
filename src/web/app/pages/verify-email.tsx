import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { Notice } from '../forms.tsx';
import { Layout } from '../layout.tsx';
import { Link, useLocation } from '../router.tsx';

/** The page an e-mail verification link opens: it sends the token once and says what happened. */
export function VerifyEmailPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    // The token leaves the address bar at once (it is not a secret worth keeping in history).
    history.replaceState(null, '', '/verify-email');
    api<{ email: string }>('POST', '/v1/email/verify', { token }).then(
      (r) => setState({ ok: true, text: `${r.email} is verified. You can close this tab.` }),
      (e: Error) => setState({ ok: false, text: e.message }),
    );
  }, [token]);
  return (
    <Layout title="Verify your e-mail">
      {state === null ? <p role="status">Checking the link…</p> : null}
      {state ? <Notice kind={state.ok ? 'ok' : 'error'}>{state.text}</Notice> : null}
      <p>
        <Link to="/onboarding">Back to setting up tagpay</Link>
      </p>
    </Layout>
  );
}
