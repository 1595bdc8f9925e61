import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { Layout } from './layout.tsx';
import { Link, match, useLocation } from './router.tsx';
import { SessionProvider } from './session.tsx';
import { MastodonReturnPage, SignInPage } from './pages/sign-in.tsx';
import { OnboardingPage } from './pages/onboarding.tsx';
import { VerifyEmailPage } from './pages/verify-email.tsx';
import { WalletPage } from './pages/wallet.tsx';
import { MerchantPage } from './pages/merchant.tsx';
import { TimelinePage } from './pages/timeline.tsx';
import { BuyNowPage } from './pages/buy-now.tsx';
import { CartPage } from './pages/cart.tsx';
import { MailboxPage } from './pages/mailbox.tsx';
import { PayApprovePage } from './pages/pay-approve.tsx';
import './styles.css';

/** Every page of the app, by path. Other helpers add theirs here (buy-now, cart, pay-with-tagpay). */
const ROUTES: { path: string; page: (params: Record<string, string>) => ReactNode }[] = [
  { path: '/', page: () => <TimelinePage /> },
  { path: '/signin', page: () => <SignInPage /> },
  { path: '/signin/mastodon', page: () => <MastodonReturnPage /> },
  { path: '/onboarding', page: () => <OnboardingPage /> },
  // The sign-up link in tagpay's replies.
  { path: '/signup', page: () => <OnboardingPage /> },
  { path: '/verify-email', page: () => <VerifyEmailPage /> },
  { path: '/wallet', page: () => <WalletPage /> },
  { path: '/merchant', page: () => <MerchantPage /> },
  { path: '/merchant/offers/:id', page: (p) => <MerchantPage offerId={p.id!} /> },
  { path: '/tags/:tag', page: (p) => <TimelinePage tag={p.tag!} /> },
  { path: '/buy/:offer', page: (p) => <BuyNowPage offerId={p.offer!} /> },
  { path: '/cart', page: () => <CartPage /> },
  { path: '/mailbox', page: () => <MailboxPage /> },
  { path: '/oauth/authorize', page: () => <PayApprovePage /> },
];

function App() {
  const { path } = useLocation();
  // Profiles are /@handle: the handle's posts.
  if (/^\/@[a-z0-9_.-]+$/.test(path)) return <TimelinePage author={path.slice(2)} />;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (params) return <>{r.page(params)}</>;
  }
  return (
    <Layout title="Page not found">
      <p>
        There is no page at <code>{path}</code>. <Link to="/">Go to the timeline</Link>.
      </p>
    </Layout>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <App />
    </SessionProvider>
  </StrictMode>,
);
