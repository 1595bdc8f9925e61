import { useCallback, useEffect, useState } from 'react';
import { api, formatMoney, idempotencyKey } from '../api.ts';
import { Notice, useSubmit } from '../forms.tsx';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link } from '../router.tsx';
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

interface CartItem {
  id: string;
  offer_id: string;
  title: string | null;
  variant: string | null;
  quantity: number;
  unit_price: { amount: number; currency: string } | null;
  available: number;
}

/**
 * The cart (#AmazonCart): what the shopper put aside by replying #cart to offer posts, checked out
 * in one payment — every item reserved or none, one card charge, one order per item.
 */
export function CartPage() {
  const { session } = useSession();
  const [items, setItems] = useState<CartItem[] | null>(null);
  const [payment, setPayment] = useState<Payment | null>(null);
  const [payFrom, setPayFrom] = useState<PayFrom | null>(null);
  const submit = useSubmit();
  const walletMinor = useWalletBalance(session, items?.[0]?.unit_price?.currency ?? null);
  const load = useCallback(async () => {
    setItems((await api<{ items: CartItem[] }>('GET', '/v1/cart')).items);
  }, []);
  useEffect(() => {
    if (session?.signed_in && session.handle) load().catch(() => setItems([]));
  }, [session, load]);

  if (session === null) {
    return (
      <Layout title="Your cart">
        <p aria-busy="true">Loading…</p>
      </Layout>
    );
  }
  if (!session.signed_in || !session.handle) {
    return (
      <Layout title="Your cart">
        <NeedsSignIn what="shopper" />
      </Layout>
    );
  }
  const currency = items?.[0]?.unit_price?.currency ?? 'USD';
  const total = (items ?? []).reduce((sum, i) => sum + (i.unit_price?.amount ?? 0) * i.quantity, 0);
  const checkout = () =>
    submit.run(async () => {
      const started = await api<Payment>(
        'POST',
        '/v1/cart/checkout',
        { pay_from: payFrom ?? defaultPayFrom(walletMinor) },
        {
          idempotencyKey: idempotencyKey(),
        },
      );
      const done = await settled(started);
      setPayment(done);
      await load();
    });
  const remove = (item: CartItem) =>
    submit.run(async () => {
      const cart = await api<{ items: CartItem[] }>(
        'POST',
        `/v1/cart/items/${encodeURIComponent(item.id)}/remove`,
        undefined,
        { idempotencyKey: idempotencyKey() },
      );
      setItems(cart.items);
    });
  return (
    <Layout title="Your cart">
      {payment?.status === 'paid' ? (
        <Notice kind="ok">
          Paid {formatMoney(payment.amount, payment.currency)} {paidFrom(payment)} in one payment
          for {payment.order_ids.length === 1 ? '1 order' : `${payment.order_ids.length} orders`} (
          {payment.order_ids.join(', ')}).{' '}
          {payment.order_ids.length === 1 ? 'It ships' : 'They ship'} to the address on your
          profile.
        </Notice>
      ) : null}
      {payment?.status === 'failed' ? (
        <Notice kind="error">
          Not paid: {failureText(payment.failure_reason)}. Nothing was charged and your cart is as
          it was.
        </Notice>
      ) : null}
      {submit.error ? <Notice kind="error">{submit.error}</Notice> : null}
      {items === null ? (
        <p aria-busy="true">Loading…</p>
      ) : items.length === 0 ? (
        <p className="empty">
          Your cart is empty. Reply <strong>#cart</strong> to an offer post on the{' '}
          <Link to="/">timeline</Link> to add it.
        </p>
      ) : (
        <>
          <div className="table-wrap">
            <table className="cart">
              <caption className="sr-only">Items in your cart</caption>
              <thead>
                <tr>
                  <th scope="col">Item</th>
                  <th scope="col">Quantity</th>
                  <th scope="col">Price</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <tr key={item.id}>
                    <th scope="row">
                      {item.title ?? 'Ended offer'}
                      {item.variant ? <span className="muted"> ({item.variant})</span> : null}
                      {item.available < item.quantity ? (
                        <span className="badge badge-bad"> only {item.available} left</span>
                      ) : null}
                    </th>
                    <td>{item.quantity}</td>
                    <td>
                      {item.unit_price
                        ? formatMoney(
                            item.unit_price.amount * item.quantity,
                            item.unit_price.currency,
                          )
                        : '—'}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="link"
                        disabled={submit.busy}
                        aria-label={`Remove ${item.title ?? 'item'} from the cart`}
                        onClick={() => void remove(item)}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colSpan={2}>
                    Total
                  </th>
                  <td colSpan={2}>
                    <strong>{formatMoney(total, currency)}</strong>
                  </td>
                </tr>
              </tfoot>
            </table>
          </div>
          <p className="muted">
            One payment; every item is reserved or none is. You can also post{' '}
            <strong>#checkout</strong> and confirm with the code tagpay replies with (paid by card).
          </p>
          <PayFromChoice
            amount={total}
            currency={currency}
            card="the card on your profile"
            walletMinor={walletMinor}
            chosen={payFrom ?? defaultPayFrom(walletMinor)}
            onChoose={setPayFrom}
            disabled={submit.busy}
          />
          <div className="actions">
            <button
              type="button"
              className="big"
              disabled={submit.busy}
              onClick={() => void checkout()}
            >
              {submit.busy ? 'Paying…' : `Pay ${formatMoney(total, currency)}`}
            </button>
          </div>
        </>
      )}
    </Layout>
  );
}
