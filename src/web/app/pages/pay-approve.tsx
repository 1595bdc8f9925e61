import { useEffect, useState } from 'react';
import { api, formatMoney, idempotencyKey } from '../api.ts';
import { Notice, useSubmit } from '../forms.tsx';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';
import {
  defaultPayFrom,
  PayFromChoice,
  settled,
  useWalletBalance,
  type Payment,
  type PayFrom,
} from './checkout-common.tsx';

interface Request {
  shop: string;
  merchant: string;
  amount: { amount: number; currency: string };
  display: string;
  description: string;
}

interface Shopper {
  card: { brand: string; last4: string };
  shipping_address: { name: string; city: string; country: string };
}

const PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
  'pay_request',
  'scope',
];

/**
 * Pay with tagpay: an outside shop sent the shopper here with an OAuth authorization request (the
 * server checked the client and its redirect URI before serving this page). The shopper signs in,
 * sees who asks for how much, chooses to pay from the wallet (first, the card for whatever it does
 * not cover) or the card, and pays or cancels; the browser then goes back to the shop.
 */
export function PayApprovePage() {
  const { query } = useLocation();
  const { session } = useSession();
  const [request, setRequest] = useState<Request | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [shopper, setShopper] = useState<Shopper | null>(null);
  const [leaving, setLeaving] = useState<string | null>(null);
  const [payFrom, setPayFrom] = useState<PayFrom | null>(null);
  const walletMinor = useWalletBalance(session, request?.amount.currency ?? null);
  const submit = useSubmit();
  const params: Record<string, string> = {};
  for (const name of PARAMS) {
    const value = query.get(name);
    if (value !== null) params[name] = value;
  }
  const search = new URLSearchParams(params).toString();

  useEffect(() => {
    fetch(`/v1/oauth/authorize?${search}`, { headers: { accept: 'application/json' } })
      .then(async (res) => {
        const body = await res.json();
        if (res.ok) return setRequest(body as Request);
        if (body.redirect_to) return location.assign(body.redirect_to);
        setProblem(body.error_description ?? 'This payment request is not valid.');
      })
      .catch(() => setProblem('tagpay could not be reached. Try again.'));
  }, [search]);

  useEffect(() => {
    if (!session?.signed_in || !session.handle || !session.network) return;
    api<Shopper>('GET', `/v1/shoppers/${session.network}/${encodeURIComponent(session.handle)}`)
      .then(setShopper)
      .catch(() => setShopper(null));
  }, [session]);

  const chosen = payFrom ?? defaultPayFrom(walletMinor);

  const decide = (decision: 'approve' | 'deny') =>
    submit.run(async () => {
      const answer = await api<{ redirect_to: string; payment: Payment | null }>(
        'POST',
        '/v1/oauth/authorize',
        { ...params, decision, ...(decision === 'approve' && { pay_from: chosen }) },
        { idempotencyKey: idempotencyKey() },
      );
      // The shop hears the final result: wait for the card's answer before going back.
      if (answer.payment) await settled(answer.payment);
      setLeaving(
        decision === 'approve'
          ? 'Paid. Taking you back to the shop…'
          : 'Canceled. Taking you back to the shop…',
      );
      location.assign(answer.redirect_to);
    });

  if (problem) {
    return (
      <Layout title="This payment request does not work">
        <Notice kind="error">{problem}</Notice>
      </Layout>
    );
  }
  if (request === null || session === null) {
    return (
      <Layout title="Pay with tagpay">
        <p aria-busy="true">Loading…</p>
      </Layout>
    );
  }
  return (
    <Layout title="Pay with tagpay">
      <section className="panel checkout" aria-labelledby="ask">
        <p id="ask" className="lede">
          <strong>{request.shop}</strong> ({request.merchant}) asks you to pay
        </p>
        <p className="big">{formatMoney(request.amount.amount, request.amount.currency)}</p>
        <p>for {request.description}</p>
        {!session.signed_in || !session.handle ? (
          <NeedsSignIn what="shopper" />
        ) : leaving ? (
          <Notice kind="ok">{leaving}</Notice>
        ) : (
          <>
            {submit.error ? <Notice kind="error">{submit.error}</Notice> : null}
            <p className="muted">
              Paying as @{session.handle}. The shop gets the payment's result, never your card.
            </p>
            <PayFromChoice
              amount={request.amount.amount}
              currency={request.amount.currency}
              card={shopper ? cardName(shopper) : 'your card on file'}
              walletMinor={walletMinor}
              chosen={chosen}
              onChoose={setPayFrom}
              disabled={submit.busy}
            />
            <div className="actions">
              <button
                type="button"
                className="big"
                disabled={submit.busy}
                onClick={() => void decide('approve')}
              >
                {submit.busy ? 'Paying…' : `Pay ${request.display}`}
              </button>
              <button
                type="button"
                className="link"
                disabled={submit.busy}
                onClick={() => void decide('deny')}
              >
                Cancel and go back to the shop
              </button>
            </div>
          </>
        )}
      </section>
    </Layout>
  );
}

function cardName(shopper: Shopper): string {
  const brand = shopper.card.brand;
  return `your ${brand.charAt(0).toUpperCase()}${brand.slice(1)} card ending ${shopper.card.last4}`;
}
