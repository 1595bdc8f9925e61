import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, formatMoney, idempotencyKey } from '../api.ts';
import { Field, Notice, useSubmit } from '../forms.tsx';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

interface Order {
  id: string;
  status: string;
  offer_id: string;
  offer_title: string | null;
  variant: string | null;
  quantity: number;
  amount: number;
  currency: string;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
  fulfilment: { carrier: string | null; tracking: string | null; fulfilled_at: string } | null;
}
interface Wallet {
  balances: { currency: string; amount: number }[];
}

/** A route that is not on this tagpay (another capability not installed) answers 404 "No route". */
const missingRoute = (e: unknown) =>
  e instanceof ApiError && e.status === 404 && e.message.startsWith('No route');

const STATUS: Record<string, [string, string]> = {
  awaiting_signup: ['Waiting for sign-up', ''],
  awaiting_confirmation: ['Waiting for your code', ''],
  charging: ['Charging', ''],
  paid: ['Paid', 'badge-good'],
  failed: ['Failed', 'badge-bad'],
  expired: ['Expired', ''],
  canceled: ['Canceled', ''],
  refunding: ['Refunding', ''],
  refunded: ['Refunded', 'badge-bad'],
};

/**
 * The wallet: balance, the history of orders (and, where this tagpay has them, payments, credits and
 * refunds), gift cards, pending claims, card-linked offers, and "freeze my account".
 */
export function WalletPage() {
  const { session } = useSession();
  if (!session) return <Layout title="Wallet">{null}</Layout>;
  if (!session.handle || !session.network)
    return (
      <Layout title="Wallet">
        <NeedsSignIn what="shopper" />
      </Layout>
    );
  return <WalletOf network={session.network} handle={session.handle} />;
}

function WalletOf({ network, handle }: { network: string; handle: string }) {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [wallet, setWallet] = useState<Wallet | 'missing' | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const list = await api<{ data: Order[] }>('GET', '/v1/me/orders');
      setOrders(list.data);
    } catch (e) {
      setError((e as Error).message);
    }
    api<Wallet>('GET', `/v1/wallets/${encodeURIComponent(handle)}?network=${network}`).then(
      setWallet,
      (e) => setWallet(missingRoute(e) ? 'missing' : { balances: [] }),
    );
  }, [network, handle]);
  useEffect(() => {
    load();
  }, [load]);

  return (
    <Layout title="Wallet">
      <p className="lede">
        {network === 'local' ? `@${handle}` : `${handle} on ${network}`} ·{' '}
        <Link to="/onboarding">Card, address and limits</Link>
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="grid">
        <section className="panel" aria-labelledby="balance-title">
          <h2 id="balance-title">Balance</h2>
          {wallet === null ? <p role="status">Loading…</p> : null}
          {wallet === 'missing' ? (
            <p className="muted">Wallets are not enabled on this tagpay.</p>
          ) : null}
          {wallet && wallet !== 'missing' ? (
            wallet.balances.length === 0 ? (
              <p className="big">{formatMoney(0, 'USD')}</p>
            ) : (
              wallet.balances.map((b) => (
                <p key={b.currency} className="big">
                  {formatMoney(b.amount, b.currency)}
                </p>
              ))
            )
          ) : null}
        </section>
        <GiftCards onRedeemed={load} />
        <CardOffers />
        <FreezeAccount network={network} handle={handle} />
      </div>
      <section className="panel" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {orders === null ? <p role="status">Loading…</p> : null}
        {orders && orders.length === 0 ? (
          <p className="muted">
            Nothing yet. Reply to an offer with its hashtag on the <Link to="/">timeline</Link> to
            buy.
          </p>
        ) : null}
        {orders && orders.length > 0 ? (
          <div className="table-wrap">
            <table className="stack">
              <caption className="sr-only">Your orders, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">What</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                </tr>
              </thead>
              <tbody>
                {orders.map((o) => {
                  const [label, cls] = STATUS[o.status] ?? [o.status, ''];
                  return (
                    <tr key={o.id}>
                      <td data-label="Date">{new Date(o.created_at).toLocaleDateString()}</td>
                      <td data-label="What">
                        {o.offer_title ?? 'Order'}
                        {o.variant ? ` (${o.variant})` : ''}
                        {o.quantity > 1 ? ` × ${o.quantity}` : ''}
                        <div className="muted small">
                          {o.id}
                          {o.fulfilment
                            ? ` · shipped${o.fulfilment.carrier ? ` by ${o.fulfilment.carrier}` : ''}${o.fulfilment.tracking ? `, tracking ${o.fulfilment.tracking}` : ''}`
                            : ''}
                          {o.failure_reason ? ` · ${o.failure_reason.replace(/_/g, ' ')}` : ''}
                        </div>
                      </td>
                      <td data-label="Status">
                        <span className={`badge ${cls}`}>{label}</span>
                      </td>
                      <td data-label="Amount" className="num">
                        {o.status === 'refunded' ? '+' : o.status === 'paid' ? '−' : ''}
                        {formatMoney(o.amount, o.currency)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </Layout>
  );
}

function GiftCards({ onRedeemed }: { onRedeemed: () => void }) {
  const [code, setCode] = useState('');
  const [ok, setOk] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const form = useSubmit();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setOk(null);
    try {
      const r = await api<{ value?: number; currency?: string }>(
        'POST',
        '/v1/gift-cards/redeem',
        { code: code.trim() },
        { idempotencyKey: idempotencyKey() },
      );
      setOk(
        r.value !== undefined && r.currency
          ? `Added ${formatMoney(r.value, r.currency)} to your balance.`
          : 'Redeemed.',
      );
      setCode('');
      onRedeemed();
    } catch (err) {
      if (missingRoute(err)) setMissing(true);
      else await form.run(() => Promise.reject(err));
    }
  };
  return (
    <section className="panel" aria-labelledby="gift-title">
      <h2 id="gift-title">Gift cards</h2>
      {missing ? (
        <p className="muted">Gift cards are not enabled on this tagpay.</p>
      ) : (
        <form onSubmit={submit} noValidate>
          {form.error ? <Notice kind="error">{form.error}</Notice> : null}
          {ok ? <Notice kind="ok">{ok}</Notice> : null}
          <Field
            label="Gift card code"
            name="code"
            placeholder="GC-…"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={form.fieldErrors.code}
          />
          <button type="submit" className="secondary" disabled={!code.trim()}>
            Redeem
          </button>
        </form>
      )}
    </section>
  );
}

function FreezeAccount({ network, handle }: { network: string; handle: string }) {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error' | 'info'; text: string } | null>(
    null,
  );
  const freeze = async () => {
    try {
      await api('POST', '/v1/me/freeze', {}, { idempotencyKey: idempotencyKey() });
      setMessage({
        kind: 'ok',
        text: 'Your account is frozen: pending checkouts ended and no new purchases go through.',
      });
    } catch (e) {
      setMessage(
        missingRoute(e)
          ? {
              kind: 'info',
              text: 'Freezing from the wallet is not enabled on this tagpay; use the "not me" link in any tagpay e-mail.',
            }
          : { kind: 'error', text: (e as Error).message },
      );
    }
    setConfirming(false);
  };
  return (
    <section className="panel" aria-labelledby="freeze-title">
      <h2 id="freeze-title">Freeze my account</h2>
      <p className="hint">
        Lost your phone or saw a purchase you did not make? Freezing stops every purchase and
        payment from {network === 'local' ? `@${handle}` : handle} at once.
      </p>
      {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
      {confirming ? (
        <div className="actions" role="group" aria-label="Confirm freezing">
          <button type="button" className="danger" onClick={freeze}>
            Yes, freeze it
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Keep it open
          </button>
        </div>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Freeze my account
        </button>
      )}
    </section>
  );
}

interface CardOffersList {
  enrolments: {
    id: string;
    title: string;
    hashtag: string;
    credit: number;
    min_spend: number;
    currency: string;
    ends_at: string;
    status: string;
  }[];
  credits: {
    id: string;
    title: string;
    credit: number;
    currency: string;
    status: string;
    created_at: string;
  }[];
}

/** Card-linked offers the handle added to its card by posting their hashtag, and credits earned. */
function CardOffers() {
  const [list, setList] = useState<CardOffersList | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<CardOffersList>('GET', '/v1/me/card-offers').then(setList, (e: Error) =>
      setError(e.message),
    );
  }, []);
  return (
    <section className="panel" aria-labelledby="card-offers-title">
      <h2 id="card-offers-title">Card-linked offers</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {list && list.enrolments.length === 0 ? (
        <p className="muted">
          None yet. Post a card-linked offer's hashtag to add it to your card; the credit comes by
          itself when you pay with the card.
        </p>
      ) : null}
      {list && list.enrolments.length > 0 ? (
        <ul className="plain">
          {list.enrolments.map((e) => (
            <li key={e.id}>
              <strong>{e.title}</strong> (#{e.hashtag}): {formatMoney(e.credit, e.currency)} back on{' '}
              {formatMoney(e.min_spend, e.currency)} or more, until{' '}
              {new Date(e.ends_at).toLocaleDateString()} <span className="badge">{e.status}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {list && list.credits.length > 0 ? (
        <>
          <h3>Statement credits</h3>
          <ul className="plain">
            {list.credits.map((c) => (
              <li key={c.id}>
                +{formatMoney(c.credit, c.currency)} · {c.title} ·{' '}
                {new Date(c.created_at).toLocaleDateString()}{' '}
                <span className="badge">{c.status}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
