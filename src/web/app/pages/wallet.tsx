import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, formatMoney, idempotencyKey } from '../api.ts';
import { Field, FieldProblems, Notice, useSubmit } from '../forms.tsx';
import { plainMessage } from '../errors.ts';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import { WalletActions } from './wallet-actions.tsx';

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
interface HistoryEntry {
  id: string;
  kind:
    | 'payment_sent'
    | 'payment_received'
    | 'refund'
    | 'credit'
    | 'top_up'
    | 'withdrawal'
    | 'gift_card_redeemed';
  at: string;
  title: string;
  amount: number;
  currency: string;
  status: string;
}
interface Claim {
  id: string;
  network: string;
  handle: string;
  amount: number;
  currency: string;
  memo: string;
  expires_at: string;
}
interface WalletData {
  linked: boolean;
  frozen_at: string | null;
  balances: { currency: string; amount: number }[];
  history: HistoryEntry[];
  claims: { sent: Claim[]; to_claim: Claim[] };
  gift_cards: {
    id: string;
    title: string;
    value: number;
    currency: string;
    redeemed: boolean;
    created_at: string;
  }[];
}

/** A route that is not on this tagpay (another capability not installed) answers 404 "No route". */
const missingRoute = (e: unknown) =>
  e instanceof ApiError && e.status === 404 && e.message.startsWith('No route');

const STATUS: Record<string, [string, string]> = {
  awaiting_signup: ['Waiting for sign-up', ''],
  awaiting_confirmation: ['Waiting for your code', ''],
  awaiting_step_up: ['Waiting for your approval', ''],
  charging: ['Charging', ''],
  paid: ['Paid', 'badge-good'],
  failed: ['Failed', 'badge-bad'],
  expired: ['Expired', ''],
  canceled: ['Canceled', ''],
  refunding: ['Refunding', ''],
  refunded: ['Refunded', 'badge-bad'],
  // Money by post, wallet operations and credits.
  completed: ['Done', 'badge-good'],
  succeeded: ['Done', 'badge-good'],
  pending: ['Pending', ''],
  pending_claim: ['Waiting for a claim', ''],
  returned: ['Returned to you', ''],
  credited: ['Credited', 'badge-good'],
  reversed: ['Reversed', 'badge-bad'],
};

const KIND: Record<HistoryEntry['kind'], string> = {
  payment_sent: 'Payment sent',
  payment_received: 'Payment received',
  refund: 'Refund',
  credit: 'Statement credit',
  top_up: 'Top-up',
  withdrawal: 'Withdrawal',
  gift_card_redeemed: 'Gift card',
};

/** One line of the history: an order, or a movement of money. */
interface Line {
  key: string;
  at: string;
  kind: string;
  what: ReactNode;
  status: string;
  /** Signed minor units: negative when money left. */
  amount: number;
  currency: string;
}

/** Money with its sign, for a history: −$25.00 paid, +$25.00 back. */
function signed(amount: number, currency: string): string {
  if (amount === 0) return formatMoney(0, currency);
  return `${amount < 0 ? '−' : '+'}${formatMoney(Math.abs(amount), currency)}`;
}

/**
 * The wallet: balance, the history of orders, payments sent and received, credits, refunds, top-ups
 * and gift cards; pending claims both ways; gift cards; card-linked offers; "freeze my account".
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
  const [wallet, setWallet] = useState<WalletData | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [list, w] = await Promise.all([
        api<{ data: Order[] }>('GET', '/v1/me/orders'),
        api<WalletData>('GET', '/v1/me/wallet'),
      ]);
      setOrders(list.data);
      setWallet(w);
      setError(null);
    } catch (e) {
      setError(plainMessage(e));
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);

  const lines: Line[] = [];
  for (const o of orders ?? []) {
    lines.push({
      key: o.id,
      at: o.created_at,
      kind: 'Order',
      what: (
        <>
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
        </>
      ),
      status: o.status,
      // Only money that left counts as spent: a failed, expired or canceled order cost nothing.
      amount: ['paid', 'refunding', 'refunded', 'charging'].includes(o.status) ? -o.amount : 0,
      currency: o.currency,
    });
  }
  for (const h of wallet?.history ?? []) {
    lines.push({
      key: h.id,
      at: h.at,
      kind: KIND[h.kind],
      what: h.title,
      status: h.status,
      amount: h.amount,
      currency: h.currency,
    });
  }
  lines.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.key < b.key ? 1 : -1));
  const who = network === 'local' ? `@${handle}` : `${handle} on ${network}`;
  const claims = wallet?.claims ?? { sent: [], to_claim: [] };

  return (
    <Layout title="Wallet">
      <p className="lede">
        {who} · <Link to="/onboarding">Card, address and limits</Link>
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {wallet && !wallet.linked ? (
        <Notice kind="info">
          {who} has not linked a card yet. <Link to="/onboarding">Set up tagpay</Link> to buy, pay
          and claim money sent to you.
        </Notice>
      ) : null}
      <div className="grid">
        <section className="panel" aria-labelledby="balance-title">
          <h2 id="balance-title">Balance</h2>
          {wallet === null ? <p role="status">Loading…</p> : null}
          {wallet ? (
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
          <p className="hint">
            Money sent to you, refunds to the wallet and redeemed gift cards. Purchases use it
            before your card.
          </p>
        </section>
        {wallet?.linked ? (
          <WalletActions
            network={network}
            handle={handle}
            balances={wallet.balances}
            onChanged={load}
          />
        ) : null}
        <section className="panel" aria-labelledby="claims-title">
          <h2 id="claims-title">Pending claims</h2>
          {claims.sent.length === 0 && claims.to_claim.length === 0 ? (
            <p className="muted">
              None. Money you send to someone who has not set up tagpay waits here until they claim
              it; unclaimed, it comes back to you.
            </p>
          ) : null}
          {claims.to_claim.length > 0 ? (
            <>
              <h3>Waiting for you to claim</h3>
              <ul className="plain">
                {claims.to_claim.map((c) => (
                  <li key={c.id}>
                    <strong>{formatMoney(c.amount, c.currency)}</strong> from{' '}
                    {c.network === 'local' ? '@' : ''}
                    {c.handle}
                    {c.memo ? ` · ${c.memo}` : ''} · until{' '}
                    {new Date(c.expires_at).toLocaleDateString()}
                    {wallet && !wallet.linked ? (
                      <>
                        {' '}
                        · <Link to="/onboarding">Link your handle to claim it</Link>
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {claims.sent.length > 0 ? (
            <>
              <h3>Sent, not claimed yet</h3>
              <ul className="plain">
                {claims.sent.map((c) => (
                  <li key={c.id}>
                    <strong>{formatMoney(c.amount, c.currency)}</strong> to{' '}
                    {c.network === 'local' ? '@' : ''}
                    {c.handle}
                    {c.memo ? ` · ${c.memo}` : ''} · back to you on{' '}
                    {new Date(c.expires_at).toLocaleDateString()} if unclaimed
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <GiftCards
          network={network}
          handle={handle}
          onRedeemed={load}
          bought={wallet?.gift_cards ?? []}
        />
        <CardOffers />
        {wallet?.linked ? (
          <FreezeAccount
            network={network}
            handle={handle}
            frozenAt={wallet.frozen_at}
            onFrozen={load}
          />
        ) : null}
      </div>
      <section className="panel" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {orders === null && !error ? <p role="status">Loading…</p> : null}
        {orders && lines.length === 0 ? (
          <p className="muted">
            Nothing yet. Reply to an offer with its hashtag on the <Link to="/">timeline</Link> to
            buy.
          </p>
        ) : null}
        {lines.length > 0 ? (
          <div className="table-wrap">
            <table className="stack">
              <caption className="sr-only">
                Your orders, payments, refunds and credits, newest first
              </caption>
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
                {lines.map((l) => {
                  const [label, cls] = STATUS[l.status] ?? [l.status.replace(/_/g, ' '), ''];
                  return (
                    <tr key={l.key}>
                      <td data-label="Date">{new Date(l.at).toLocaleDateString()}</td>
                      <td data-label="What">
                        <span className="kind">{l.kind}</span> {l.what}
                      </td>
                      <td data-label="Status">
                        <span className={`badge ${cls}`}>{label}</span>
                      </td>
                      <td data-label="Amount" className={`num ${l.amount > 0 ? 'money-in' : ''}`}>
                        {signed(l.amount, l.currency)}
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

function GiftCards({
  network,
  handle,
  onRedeemed,
  bought,
}: {
  network: string;
  handle: string;
  onRedeemed: () => void;
  bought: WalletData['gift_cards'];
}) {
  const [code, setCode] = useState('');
  const [ok, setOk] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const form = useSubmit(['code']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setOk(null);
    if (!code.trim()) {
      await form.run(() =>
        Promise.reject(new FieldProblems({ code: 'Enter the code from your gift card e-mail.' })),
      );
      return;
    }
    const r = await form.run(async () => {
      try {
        return await api<{ value: number; currency: string }>(
          'POST',
          '/v1/gift-cards/redeem',
          { code: code.trim(), network, handle },
          { idempotencyKey: idempotencyKey() },
        );
      } catch (err) {
        if (missingRoute(err)) {
          setMissing(true);
          return undefined;
        }
        throw err;
      }
    });
    if (r) {
      setOk(`Added ${formatMoney(r.value, r.currency)} to your balance.`);
      setCode('');
      onRedeemed();
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
            autoComplete="off"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={form.fieldErrors.code}
          />
          <button type="submit" className="secondary" disabled={form.busy}>
            Redeem
          </button>
        </form>
      )}
      {bought.length > 0 ? (
        <>
          <h3>Bought</h3>
          <ul className="plain">
            {bought.map((g) => (
              <li key={g.id}>
                {formatMoney(g.value, g.currency)} · {g.title} ·{' '}
                {new Date(g.created_at).toLocaleDateString()}{' '}
                <span className={`badge ${g.redeemed ? '' : 'badge-good'}`}>
                  {g.redeemed ? 'redeemed' : 'not redeemed'}
                </span>
              </li>
            ))}
          </ul>
          <p className="hint">The codes went to your e-mail once; tagpay keeps only their hash.</p>
        </>
      ) : null}
    </section>
  );
}

function FreezeAccount({
  network,
  handle,
  frozenAt,
  onFrozen,
}: {
  network: string;
  handle: string;
  frozenAt: string | null;
  onFrozen: () => void;
}) {
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
      onFrozen();
    } catch (e) {
      setMessage(
        missingRoute(e)
          ? {
              kind: 'info',
              text: 'Freezing from the wallet is not enabled on this tagpay; use the "not me" link in any tagpay e-mail.',
            }
          : { kind: 'error', text: plainMessage(e) },
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
      {frozenAt ? (
        <p>
          <span className="badge badge-bad">Frozen</span> since{' '}
          {new Date(frozenAt).toLocaleString()}. Only the operator of this tagpay can unfreeze it.
        </p>
      ) : confirming ? (
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
    api<CardOffersList>('GET', '/v1/me/card-offers').then(setList, (e) =>
      setError(plainMessage(e)),
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
