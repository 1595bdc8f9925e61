import { useEffect, useRef, useState } from 'react';
import { api } from '../api.ts';
import { plainMessage } from '../errors.ts';
import { Notice } from '../forms.tsx';
import { Layout } from '../layout.tsx';
import { Link, useLocation } from '../router.tsx';

/** The page an e-mail verification link opens: it sends the token once and says what happened. */
export function VerifyEmailPage() {
  const { query } = useLocation();
  // Read once: the token leaves the address bar at once (it is not worth keeping in history), and a
  // later render must not send the emptied address again.
  const [token] = useState(() => query.get('token') ?? '');
  const sent = useRef(false);
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    history.replaceState(null, '', '/verify-email');
    if (sent.current) return;
    sent.current = true;
    api<{ email: string }>('POST', '/v1/email/verify', { token }).then(
      (r) => setState({ ok: true, text: `${r.email} is verified. You can close this tab.` }),
      (e) => setState({ ok: false, text: plainMessage(e) }),
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
