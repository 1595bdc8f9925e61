import { useEffect, useState, type FormEvent } from 'react';
import { api, formatMoney, idempotencyKey } from '../api.ts';
import { QUANTITY_PER_POST_MAX as QUANTITY_MAX } from '../../../core/limits.ts';
import { Field, FieldProblems, Notice, SelectField, useSubmit } from '../forms.tsx';
import { plainMessage } from '../errors.ts';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';
import {
  defaultPayFrom,
  failureText,
  PayFromChoice,
  settled,
  useWalletBalance,
  type Payment,
  type PayFrom,
  paidFrom,
} from './checkout-common.tsx';

interface Offer {
  id: string;
  title: string;
  price: { amount: number; currency: string };
  available: number;
  variants: string[];
  status: string;
}

/**
 * The one-tap checkout a buy-now (ticket) link opens: the server has already checked the link's
 * signature and expiry; a signed-in, linked shopper taps once and the card on file pays.
 */
export function BuyNowPage({ offerId }: { offerId: string }) {
  const { query } = useLocation();
  const { session } = useSession();
  const exp = query.get('exp') ?? '';
  const sig = query.get('sig') ?? '';
  const [offer, setOffer] = useState<Offer | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [variant, setVariant] = useState('');
  const [quantity, setQuantity] = useState('1');
  const [payment, setPayment] = useState<Payment | null>(null);
  const [payFrom, setPayFrom] = useState<PayFrom | null>(null);
  const submit = useSubmit(['variant', 'quantity']);
  const walletMinor = useWalletBalance(session, offer?.price.currency ?? null);

  useEffect(() => {
    api<{ offer: Offer }>(
      'GET',
      `/v1/buy_links/${encodeURIComponent(offerId)}?${new URLSearchParams({ exp, sig })}`,
    )
      .then((r) => setOffer(r.offer))
      .catch((e) => setLoadError(plainMessage(e)));
  }, [offerId, exp, sig]);

  if (loadError) {
    return (
      <Layout title="This link does not work">
        <Notice kind="error">{loadError}</Notice>
      </Layout>
    );
  }
  if (offer === null || session === null) {
    return (
      <Layout title="Buy now">
        <p aria-busy="true">Loading…</p>
      </Layout>
    );
  }
  // The server refuses a bad quantity too; the page says so before a tap, and never buys a unit the
  // shopper did not ask for (an empty or zero quantity is not "1").
  const count = /^\d{1,2}$/.test(quantity.trim()) ? Number(quantity.trim()) : NaN;
  const countOk = count >= 1 && count <= QUANTITY_MAX;
  const total = countOk ? formatMoney(offer.price.amount * count, offer.price.currency) : null;
  const buy = (e: FormEvent) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (offer.variants.length > 0 && !offer.variants.includes(variant))
      problems.variant = `Choose one of ${offer.variants.join(', ')}.`;
    if (!countOk) problems.quantity = `Enter a whole number from 1 to ${QUANTITY_MAX}.`;
    if (Object.keys(problems).length > 0) {
      void submit.run(() => Promise.reject(new FieldProblems(problems)));
      return;
    }
    void submit.run(async () => {
      const started = await api<Payment>(
        'POST',
        '/v1/checkout/buy_now',
        {
          offer_id: offer.id,
          exp,
          sig,
          variant: variant || null,
          quantity: count,
          pay_from: payFrom ?? defaultPayFrom(walletMinor),
        },
        // A key per tap: a double submit is one purchase, a new tap after an error is a new one.
        { idempotencyKey: idempotencyKey() },
      );
      setPayment(await settled(started));
    });
  };
  return (
    <Layout title={offer.title}>
      <section className="panel checkout" aria-labelledby="price">
        <p id="price" className="big">
          {formatMoney(offer.price.amount, offer.price.currency)}
          <span className="muted"> each · {offer.available} left</span>
        </p>
        {!session.signed_in || !session.handle ? (
          <NeedsSignIn what="shopper" />
        ) : payment?.status === 'paid' ? (
          <Notice kind="ok">
            Paid {formatMoney(payment.amount, payment.currency)} {paidFrom(payment)}. Order{' '}
            {payment.order_ids.join(', ')} ships to the address on your profile.{' '}
            <Link to="/wallet">See it in your wallet</Link>.
          </Notice>
        ) : (
          <form onSubmit={buy} noValidate>
            {payment?.status === 'failed' ? (
              <Notice kind="error">
                Not paid: {failureText(payment.failure_reason)}. Nothing was charged.
              </Notice>
            ) : null}
            {payment?.status === 'charging' ? (
              <Notice kind="info">
                Your card is still being charged; check your wallet shortly.
              </Notice>
            ) : null}
            {submit.error ? <Notice kind="error">{submit.error}</Notice> : null}
            {offer.variants.length > 0 ? (
              <SelectField
                label="Option"
                value={variant}
                required
                onChange={(e) => {
                  setVariant(e.target.value);
                  submit.clearField('variant');
                }}
                error={submit.fieldErrors.variant}
              >
                <option value="">Choose…</option>
                {offer.variants.map((v) => (
                  <option key={v} value={v}>
                    {v}
                  </option>
                ))}
              </SelectField>
            ) : null}
            <Field
              label="Quantity"
              type="number"
              inputMode="numeric"
              min={1}
              max={QUANTITY_MAX}
              value={quantity}
              onChange={(e) => {
                setQuantity(e.target.value);
                submit.clearField('quantity');
              }}
              error={submit.fieldErrors.quantity}
            />
            <p className="muted">Paying as @{session.handle}. One tap, no code to post.</p>
            <PayFromChoice
              amount={offer.price.amount * (countOk ? count : 1)}
              currency={offer.price.currency}
              card="the card on your profile"
              walletMinor={walletMinor}
              chosen={payFrom ?? defaultPayFrom(walletMinor)}
              onChoose={setPayFrom}
              disabled={submit.busy}
            />
            <div className="actions">
              <button type="submit" className="big" disabled={submit.busy}>
                {submit.busy ? 'Paying…' : total === null ? 'Buy now' : `Buy now — ${total}`}
              </button>
            </div>
          </form>
        )}
      </section>
    </Layout>
  );
}
