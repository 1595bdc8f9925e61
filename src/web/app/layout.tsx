import type { ReactNode } from 'react';
import { Link, navigate } from './router.tsx';
import { useSession } from './session.tsx';

/** Every page: a skip link, the site's navigation, who is signed in, and the page in <main>. */
export function Layout({ title, children }: { title: string; children: ReactNode }) {
  const { session, signOut } = useSession();
  const who = session?.merchant
    ? `${session.merchant.name} (merchant)`
    : session?.handle
      ? `@${session.handle}${session.network && session.network !== 'local' ? ` on ${session.network}` : ''}`
      : null;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="site">
        <Link to="/" className="brand" aria-label="tagpay home">
          #tagpay
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to="/">Timeline</Link>
            </li>
            <li>
              <Link to="/wallet">Wallet</Link>
            </li>
            <li>
              <Link to="/cart">Cart</Link>
            </li>
            <li>
              <Link to="/onboarding">Set up</Link>
            </li>
            <li>
              <Link to="/merchant">Merchant</Link>
            </li>
            {session?.demo_mailbox ? (
              <li>
                <Link to="/mailbox">Mailbox</Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <div className="who">
          {who ? (
            <>
              <span className="who-name">{who}</span>
              <button
                type="button"
                className="link"
                onClick={async () => {
                  await signOut();
                  navigate('/signin');
                }}
              >
                Sign out
              </button>
            </>
          ) : session ? (
            <Link to="/signin">Sign in</Link>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        {children}
      </main>
      <footer className="site">
        <a href="/docs">API documentation</a> · tagpay, open source
      </footer>
    </>
  );
}

/** Shown in place of a page that needs a signed-in shopper or merchant. */
export function NeedsSignIn({ what }: { what: 'shopper' | 'merchant' }) {
  const next = encodeURIComponent(location.pathname + location.search);
  return (
    <p className="panel">
      {what === 'merchant'
        ? 'Sign in with your merchant API key to see this page. '
        : 'Sign in with your handle to see this page. '}
      <Link to={`/signin?next=${next}${what === 'merchant' ? '&as=merchant' : ''}`}>Sign in</Link>
    </p>
  );
}
