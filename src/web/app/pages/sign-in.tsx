import { useEffect, useState, type FormEvent } from 'react';
import { api, type Session } from '../api.ts';
import { Field, Notice, useSubmit } from '../forms.tsx';
import { plainMessage } from '../errors.ts';
import { Layout } from '../layout.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';

type Method = 'local' | 'bluesky' | 'mastodon' | 'merchant';
const METHODS: { id: Method; label: string }[] = [
  { id: 'local', label: 'Local network' },
  { id: 'bluesky', label: 'Bluesky' },
  { id: 'mastodon', label: 'Mastodon' },
  { id: 'merchant', label: 'Merchant' },
];

/**
 * Sign-in is the proof that the handle is yours: the network itself vouches for it (the local
 * network's account token; Bluesky and Mastodon as their proofs land), or a merchant's API key.
 */
export function SignInPage() {
  const { query } = useLocation();
  const { session, adopt } = useSession();
  const [method, setMethod] = useState<Method>(
    query.get('as') === 'merchant' ? 'merchant' : 'local',
  );
  const next = safeNext(query.get('next'), method === 'merchant' ? '/merchant' : '/onboarding');
  const done = (s: Session) => {
    adopt(s);
    navigate(s.merchant ? safeNext(query.get('next'), '/merchant') : next);
  };
  return (
    <Layout title="Sign in">
      <p className="lede">
        Prove the handle is yours on its network. tagpay never sees your network password.
      </p>
      <div role="tablist" aria-label="How to sign in" className="tabs">
        {METHODS.map((m) => (
          <button
            key={m.id}
            role="tab"
            type="button"
            id={`tab-${m.id}`}
            aria-selected={method === m.id}
            aria-controls={`panel-${m.id}`}
            tabIndex={method === m.id ? 0 : -1}
            onClick={() => setMethod(m.id)}
            onKeyDown={(e) => {
              const i = METHODS.findIndex((x) => x.id === method);
              const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (step === 0) return;
              const nextTab = METHODS[(i + step + METHODS.length) % METHODS.length]!;
              setMethod(nextTab.id);
              document.getElementById(`tab-${nextTab.id}`)?.focus();
            }}
          >
            {m.label}
          </button>
        ))}
      </div>
      <section
        role="tabpanel"
        id={`panel-${method}`}
        aria-labelledby={`tab-${method}`}
        className="panel"
      >
        {method === 'local' ? <LocalSignIn onDone={done} /> : null}
        {method === 'merchant' ? <MerchantSignIn onDone={done} /> : null}
        {method === 'bluesky' ? <BlueskySignIn onDone={done} /> : null}
        {method === 'mastodon' ? <MastodonSignIn /> : null}
      </section>
      {session?.demo ? <DemoSignIn onDone={done} /> : null}
    </Layout>
  );
}

/** Only paths of this site, so a crafted link cannot send a signed-in person elsewhere. */
function safeNext(next: string | null, fallback: string): string {
  return next && /^\/(?!\/)[\w\-/?=&%.]*$/.test(next) ? next : fallback;
}

function LocalSignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [handle, setHandle] = useState('');
  const [token, setToken] = useState('');
  const form = useSubmit(['handle', 'token']);
  const [created, setCreated] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = await form.run(() => api<Session>('POST', '/v1/session/local', { handle, token }));
    if (s) onDone(s);
  };
  const createAccount = async () => {
    const r = await form.run(() =>
      api<{ handle: string; token: string }>('POST', '/v1/local/accounts', { handle }),
    );
    if (r) {
      setToken(r.token);
      setCreated(r.token);
    }
  };
  return (
    <form onSubmit={submit} noValidate aria-describedby="local-about">
      <p id="local-about" className="hint">
        The local network is the small social network built into this tagpay. Its account token is
        your password.
      </p>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      {created ? (
        <Notice kind="ok">
          Account created. Keep this token — it is shown once: <code>{created}</code>
        </Notice>
      ) : null}
      <Field
        label="Handle"
        name="handle"
        autoComplete="username"
        value={handle}
        onChange={(e) => setHandle(e.target.value)}
        error={form.fieldErrors.handle}
        required
      />
      <Field
        label="Account token"
        name="token"
        type="password"
        autoComplete="current-password"
        value={token}
        onChange={(e) => setToken(e.target.value)}
        error={form.fieldErrors.token}
        required
      />
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Sign in
        </button>
        <button
          type="button"
          className="secondary"
          disabled={form.busy || !handle}
          onClick={createAccount}
        >
          Create this account
        </button>
      </div>
    </form>
  );
}

interface Proof {
  proof: string;
}

function BlueskySignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [handle, setHandle] = useState('');
  const [password, setPassword] = useState('');
  const form = useSubmit(['handle', 'app_password']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = await form.run(async () => {
      const proof = await api<Proof>('POST', '/v1/onboarding/bluesky', {
        handle: handle.trim().replace(/^@/, ''),
        app_password: password,
      });
      return api<Session>('POST', '/v1/session/proof', { proof: proof.proof });
    });
    setPassword('');
    if (s) onDone(s);
  };
  return (
    <form onSubmit={submit} noValidate>
      <p className="hint">
        Use an app password (Bluesky: Settings → Privacy and security → App passwords), never your
        account password. tagpay opens one session on your own server to check it, then closes it
        and forgets the password.
      </p>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <Field
        label="Bluesky handle"
        name="handle"
        autoComplete="username"
        placeholder="alice.bsky.social"
        value={handle}
        onChange={(e) => setHandle(e.target.value)}
        error={form.fieldErrors.handle}
      />
      <Field
        label="App password"
        name="app_password"
        type="password"
        autoComplete="off"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        error={form.fieldErrors.app_password}
      />
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Sign in with Bluesky
        </button>
      </div>
    </form>
  );
}

function MastodonSignIn() {
  const [server, setServer] = useState('');
  const form = useSubmit(['server']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(() =>
      api<{ authorize_url: string }>('POST', '/v1/onboarding/mastodon', {
        server: server.trim(),
        return_to: `${location.origin}/signin/mastodon`,
      }),
    );
    // Off to the person's own server to approve; it sends them back to /signin/mastodon.
    if (r) location.assign(r.authorize_url);
  };
  return (
    <form onSubmit={submit} noValidate>
      <p className="hint">
        Your server asks you to approve tagpay (it may read your account's name only), then sends
        you back here.
      </p>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <Field
        label="Your Mastodon server"
        name="server"
        placeholder="mastodon.social"
        value={server}
        onChange={(e) => setServer(e.target.value)}
        error={form.fieldErrors.server}
      />
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Continue to your server
        </button>
      </div>
    </form>
  );
}

/** Where Mastodon's approval comes back: the proof is in the URL fragment (never sent to a server log). */
export function MastodonReturnPage() {
  const { adopt } = useSession();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const params = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, '', '/signin/mastodon');
    const proof = params.get('proof');
    const refused = params.get('error');
    if (refused) {
      setError(refused);
      return;
    }
    if (!proof) {
      setError('Mastodon did not send a proof back. Start again.');
      return;
    }
    api<Session>('POST', '/v1/session/proof', { proof }).then(
      (s) => {
        adopt(s);
        navigate('/onboarding', { replace: true });
      },
      (e) => setError(plainMessage(e)),
    );
  }, [adopt]);
  return (
    <Layout title="Signing in with Mastodon">
      {error ? <Notice kind="error">{error}</Notice> : <p role="status">Checking the approval…</p>}
      <p>
        <Link to="/signin">Back to sign in</Link>
      </p>
    </Layout>
  );
}

function MerchantSignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const form = useSubmit(['api_key']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = await form.run(() => api<Session>('POST', '/v1/session/merchant', { api_key: key }));
    if (s) onDone(s);
  };
  return (
    <form onSubmit={submit} noValidate>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <Field
        label="Merchant API key"
        name="api_key"
        type="password"
        autoComplete="off"
        hint="The sk_… key tagpay showed when the merchant was created."
        value={key}
        onChange={(e) => setKey(e.target.value)}
        error={form.fieldErrors.api_key}
        required
      />
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Open the dashboard
        </button>
      </div>
    </form>
  );
}

function DemoSignIn({ onDone }: { onDone: (s: Session) => void }) {
  const form = useSubmit();
  const signIn = async (handle: string) => {
    const s = await form.run(() => api<Session>('POST', '/v1/session/demo', { handle }));
    if (s) onDone(s);
  };
  return (
    <section className="panel demo" aria-labelledby="demo-title">
      <h2 id="demo-title">Demo accounts</h2>
      <p className="hint">Demo mode is on: anyone may act as these accounts.</p>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <div className="actions">
        {['alice', 'bob', 'carol', 'dave'].map((h) => (
          <button key={h} type="button" className="secondary" onClick={() => signIn(h)}>
            @{h}
          </button>
        ))}
        <button type="button" className="secondary" onClick={() => signIn('acme')}>
          @acme (merchant)
        </button>
      </div>
    </section>
  );
}
