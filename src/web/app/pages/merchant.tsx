import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, formatMoney, idempotencyKey } from '../api.ts';
import { readPrice } from '../money-input.ts';
import { FunnelChart, RevenueChart } from '../charts.tsx';
import { Field, FieldProblems, Notice, useSubmit } from '../forms.tsx';
import { plainMessage } from '../errors.ts';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

export interface Offer {
  id: string;
  title: string;
  price: { amount: number; currency: string };
  quantity: number;
  available: number;
  sold: number;
  variants: string[];
  per_buyer_max: number | null;
  hashtag: string;
  status: 'live' | 'paused' | 'ended';
  created_at: string;
}
interface Order {
  id: string;
  status: string;
  offer_id: string;
  handle: string;
  network: string;
  variant: string | null;
  quantity: number;
  amount: number;
  currency: string;
  created_at: string;
}
interface Fulfilment {
  order_id: string;
  carrier: string | null;
  tracking: string | null;
}
interface Funnel {
  hashtag_posts: number;
  checkouts: number;
  confirmed: number;
  paid: number;
  refunded: number;
  currency: string;
  revenue: { day: string; paid: number; refunded: number }[];
}

/** How often the dashboard's live figures are read again. */
const LIVE_REFRESH_MS = 3000;

const missingRoute = (e: unknown) =>
  e instanceof ApiError && e.status === 404 && e.message.startsWith('No route');

/**
 * The merchant dashboard: offers (create, edit, publish, pause, end), per offer a live funnel and
 * revenue, orders with fulfil and refund, the waitlist, webhook deliveries with "send again", and API
 * keys (shown once, revocable).
 */
export function MerchantPage({ offerId }: { offerId?: string }) {
  const { session } = useSession();
  if (!session) return <Layout title="Merchant dashboard">{null}</Layout>;
  if (!session.merchant)
    return (
      <Layout title="Merchant dashboard">
        <NeedsSignIn what="merchant" />
      </Layout>
    );
  return offerId ? (
    <OfferDetail id={offerId} />
  ) : (
    <Dashboard name={session.merchant.name} handle={session.merchant.handle} />
  );
}

function useOrders() {
  const [orders, setOrders] = useState<Order[]>([]);
  const [fulfilled, setFulfilled] = useState<Map<string, Fulfilment>>(new Map());
  const load = useCallback(async () => {
    const [o, f] = await Promise.all([
      api<{ data: Order[] }>('GET', '/v1/orders?limit=100'),
      api<{ data: Fulfilment[] }>('GET', '/v1/fulfilments'),
    ]);
    setOrders(o.data);
    setFulfilled(new Map(f.data.map((x) => [x.order_id, x])));
  }, []);
  return { orders, fulfilled, load };
}

function Dashboard({ name, handle }: { name: string; handle: string }) {
  const [offers, setOffers] = useState<Offer[]>([]);
  const { orders, fulfilled, load: loadOrders } = useOrders();
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const list = await api<{ data: Offer[] }>('GET', '/v1/offers?limit=100');
      setOffers(list.data);
      await loadOrders();
    } catch (e) {
      setError(plainMessage(e));
    }
  }, [loadOrders]);
  useEffect(() => {
    load();
    const t = setInterval(load, LIVE_REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);
  const titles = new Map(offers.map((o) => [o.id, o.title]));
  const paid = orders.filter((o) => o.status === 'paid');
  // Revenue per currency: amounts in different currencies are never added together.
  const revenue = new Map<string, bigint>();
  for (const o of paid) revenue.set(o.currency, (revenue.get(o.currency) ?? 0n) + BigInt(o.amount));
  return (
    <Layout title={`${name} · dashboard`}>
      <nav className="subnav" aria-label="Dashboard sections">
        <a href="#offers">Offers</a>
        <a href="#orders">Orders</a>
        <a href="#webhooks">Webhooks</a>
        <a href="#keys">API keys</a>
      </nav>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="stats" role="group" aria-label="Totals">
        <div className="stat">
          <div className="label">Live offers</div>
          <div className="value">
            {offers.filter((o) => offerStatus(o).label === 'live').length}
          </div>
        </div>
        <div className="stat">
          <div className="label">Paid orders</div>
          <div className="value">{paid.length}</div>
        </div>
        <div className="stat">
          <div className="label">Revenue (paid)</div>
          <div className="value">
            {revenue.size === 0
              ? formatMoney(0, 'USD')
              : [...revenue].map(([currency, minor]) => formatMoney(minor, currency)).join(' · ')}
          </div>
        </div>
        <div className="stat">
          <div className="label">Handle</div>
          <div className="value small">@{handle}</div>
        </div>
      </div>
      <section className="panel" id="offers" aria-labelledby="offers-title">
        <h2 id="offers-title">Offers</h2>
        <OffersTable offers={offers} onChange={load} />
        <CreateOffer onCreated={load} />
      </section>
      <section className="panel" id="orders" aria-labelledby="orders-title">
        <h2 id="orders-title">Orders</h2>
        <OrdersTable orders={orders} fulfilled={fulfilled} titles={titles} onChange={load} />
      </section>
      <Webhooks />
      <ApiKeys />
    </Layout>
  );
}

function OffersTable({ offers, onChange }: { offers: Offer[]; onChange: () => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const act = async (o: Offer, action: 'pause' | 'resume' | 'end') => {
    setError(null);
    try {
      await api('POST', `/v1/offers/${o.id}/${action}`, undefined, {
        idempotencyKey: idempotencyKey(),
      });
      onChange();
    } catch (e) {
      setError(plainMessage(e));
    }
  };
  if (offers.length === 0) return <p className="muted">No offers yet. Create one below.</p>;
  return (
    <>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="table-wrap">
        <table className="stack">
          <caption className="sr-only">Your offers</caption>
          <thead>
            <tr>
              <th scope="col">Offer</th>
              <th scope="col">Hashtag</th>
              <th scope="col" className="num">
                Price
              </th>
              <th scope="col" className="num">
                Left / total
              </th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {offers.map((o) =>
              editing === o.id ? (
                <tr key={o.id}>
                  <td colSpan={6}>
                    <EditOffer
                      offer={o}
                      onDone={() => {
                        setEditing(null);
                        onChange();
                      }}
                    />
                  </td>
                </tr>
              ) : (
                <tr key={o.id}>
                  <td data-label="Offer">
                    <Link to={`/merchant/offers/${o.id}`}>{o.title}</Link>
                    {o.variants.length ? (
                      <div className="muted small">{o.variants.join(', ')}</div>
                    ) : null}
                  </td>
                  <td data-label="Hashtag">#{o.hashtag}</td>
                  <td data-label="Price" className="num">
                    {formatMoney(o.price.amount, o.price.currency)}
                  </td>
                  <td data-label="Left / total" className="num">
                    {o.available} / {o.quantity}
                  </td>
                  <td data-label="Status">
                    <OfferStatus offer={o} />
                  </td>
                  <td data-label="Actions">
                    <div className="actions">
                      {o.status === 'live' ? (
                        <button
                          type="button"
                          className="secondary small"
                          onClick={() => act(o, 'pause')}
                          aria-label={`Pause ${o.title}`}
                        >
                          Pause
                        </button>
                      ) : null}
                      {o.status === 'paused' ? (
                        <button
                          type="button"
                          className="small"
                          onClick={() => act(o, 'resume')}
                          aria-label={`Publish ${o.title}`}
                        >
                          Publish
                        </button>
                      ) : null}
                      {o.status !== 'ended' ? (
                        <>
                          <button
                            type="button"
                            className="secondary small"
                            onClick={() => setEditing(o.id)}
                            aria-label={`Edit ${o.title}`}
                          >
                            Edit
                          </button>
                          <button
                            type="button"
                            className="secondary small"
                            onClick={() => act(o, 'end')}
                            aria-label={`End ${o.title}`}
                          >
                            End
                          </button>
                        </>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

/**
 * An offer's state as a merchant reads it: a live offer with nothing left is sold out (its posts put
 * people on the waitlist), not "live"; a paused offer that never sold is a draft.
 */
export function offerStatus(o: Offer): { label: string; tone: '' | 'badge-good' | 'badge-bad' } {
  if (o.status === 'live' && o.available === 0) return { label: 'sold out', tone: 'badge-bad' };
  if (o.status === 'live') return { label: 'live', tone: 'badge-good' };
  if (o.status === 'paused' && o.sold === 0 && o.available === o.quantity)
    return { label: 'draft / paused', tone: '' };
  return { label: o.status, tone: '' };
}

function OfferStatus({ offer }: { offer: Offer }) {
  const { label, tone } = offerStatus(offer);
  return <span className={`badge ${tone}`}>{label}</span>;
}

function EditOffer({ offer, onDone }: { offer: Offer; onDone: () => void }) {
  const [title, setTitle] = useState(offer.title);
  const [quantity, setQuantity] = useState(String(offer.quantity));
  const [cap, setCap] = useState(offer.per_buyer_max === null ? '' : String(offer.per_buyer_max));
  const form = useSubmit(['title', 'quantity', 'per_buyer_max']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(async () => {
      const problems: Record<string, string> = {};
      if (!title.trim()) problems.title = 'A title is required.';
      if (!/^\d+$/.test(quantity.trim()) || Number(quantity) < 1)
        problems.quantity = 'A whole number of units, 1 or more.';
      if (cap.trim() && (!/^\d+$/.test(cap.trim()) || Number(cap) < 1))
        problems.per_buyer_max = 'A whole number, or empty for no cap.';
      if (Object.keys(problems).length) {
        throw new FieldProblems(problems);
      }
      return api(
        'POST',
        `/v1/offers/${offer.id}`,
        {
          title: title.trim(),
          quantity: Number(quantity),
          per_buyer_max: cap.trim() ? Number(cap) : null,
        },
        { idempotencyKey: idempotencyKey() },
      );
    });
    if (r) onDone();
  };
  return (
    <form onSubmit={submit} noValidate aria-label={`Edit ${offer.title}`}>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <div className="row">
        <Field
          label="Title"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          error={form.fieldErrors.title}
        />
        <Field
          label="Units on sale"
          inputMode="numeric"
          value={quantity}
          onChange={(e) => setQuantity(e.target.value)}
          error={form.fieldErrors.quantity}
          hint={`${offer.quantity - offer.available} sold or reserved`}
        />
        <Field
          label="Most per buyer"
          inputMode="numeric"
          placeholder="no cap"
          value={cap}
          onChange={(e) => setCap(e.target.value)}
          error={form.fieldErrors.per_buyer_max}
        />
      </div>
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Save
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CreateOffer({ onCreated }: { onCreated: () => void }) {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState('');
  const [price, setPrice] = useState('');
  const [quantity, setQuantity] = useState('');
  const [hashtag, setHashtag] = useState('');
  const [variants, setVariants] = useState('');
  const [publish, setPublish] = useState(true);
  const form = useSubmit(['title', 'price', 'quantity', 'hashtag', 'variants']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(async () => {
      const problems: Record<string, string> = {};
      const read = readPrice(price, 'USD');
      if (!title.trim()) problems.title = 'A title is required.';
      if (!read.ok) problems.price = read.problem;
      if (!/^\d+$/.test(quantity.trim()) || Number(quantity) < 1)
        problems.quantity = 'A whole number of units, 1 or more.';
      if (!/^#?[A-Za-z][A-Za-z0-9_]{2,}$/.test(hashtag.trim()))
        problems.hashtag = 'Letters, digits and _, starting with a letter, like BuyAcmeTee.';
      if (Object.keys(problems).length) {
        throw new FieldProblems(problems);
      }
      return api<Offer>(
        'POST',
        '/v1/offers',
        {
          title: title.trim(),
          price: { amount: Number(read.ok ? read.minor : 0), currency: 'USD' },
          quantity: Number(quantity),
          hashtag: hashtag.trim().replace(/^#/, ''),
          variants: variants
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean),
          publish,
        },
        { idempotencyKey: idempotencyKey() },
      );
    });
    if (r) {
      setTitle('');
      setPrice('');
      setQuantity('');
      setHashtag('');
      setVariants('');
      setOpen(false);
      onCreated();
    }
  };
  if (!open)
    return (
      <div className="actions">
        <button type="button" onClick={() => setOpen(true)}>
          New offer
        </button>
      </div>
    );
  return (
    <form onSubmit={submit} noValidate aria-labelledby="new-offer-title" className="new-offer">
      <h3 id="new-offer-title">New offer</h3>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <div className="row">
        <Field
          label="Title"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          error={form.fieldErrors.title}
        />
        <Field
          label="Price (USD)"
          inputMode="decimal"
          placeholder="25.00"
          value={price}
          onChange={(e) => setPrice(e.target.value)}
          error={form.fieldErrors.price}
        />
        <Field
          label="Units on sale"
          inputMode="numeric"
          value={quantity}
          onChange={(e) => setQuantity(e.target.value)}
          error={form.fieldErrors.quantity}
        />
      </div>
      <div className="row">
        <Field
          label="Hashtag"
          placeholder="BuyAcmeTee"
          value={hashtag}
          onChange={(e) => setHashtag(e.target.value)}
          error={form.fieldErrors.hashtag}
        />
        <Field
          label="Variants (optional)"
          hint="Comma separated, like S, M, L"
          value={variants}
          onChange={(e) => setVariants(e.target.value)}
          error={form.fieldErrors.variants}
        />
      </div>
      <div className="choice">
        <input
          type="checkbox"
          id="publish-now"
          checked={publish}
          onChange={(e) => setPublish(e.target.checked)}
        />
        <label htmlFor="publish-now">
          Publish now (post it from your handle); otherwise keep it as a paused draft
        </label>
      </div>
      <div className="actions">
        <button type="submit" disabled={form.busy}>
          Create offer
        </button>
        <button type="button" className="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const ORDER_STATUS: Record<string, string> = {
  awaiting_signup: 'waiting for sign-up',
  awaiting_confirmation: 'waiting for code',
};

function OrdersTable(props: {
  orders: Order[];
  fulfilled: Map<string, Fulfilment>;
  titles: Map<string, string>;
  onChange: () => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmRefund, setConfirmRefund] = useState<string | null>(null);
  const [shipping, setShipping] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const refund = async (o: Order) => {
    setBusy(o.id);
    try {
      await api('POST', `/v1/orders/${o.id}/refund`, {}, { idempotencyKey: idempotencyKey() });
      setMessage({
        kind: 'ok',
        text: `Refund of ${formatMoney(o.amount, o.currency)} to @${o.handle} started.`,
      });
      props.onChange();
    } catch (e) {
      setMessage({ kind: 'error', text: plainMessage(e) });
    }
    setBusy(null);
    setConfirmRefund(null);
  };
  if (props.orders.length === 0) return <p className="muted">No orders yet.</p>;
  return (
    <>
      {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
      <div className="table-wrap">
        <table className="stack">
          <caption className="sr-only">Orders, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Buyer</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Amount
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.orders.map((o) => {
              const f = props.fulfilled.get(o.id);
              return (
                <tr key={o.id}>
                  <td data-label="Order">
                    {props.titles.get(o.offer_id) ?? o.offer_id}
                    {o.variant ? ` (${o.variant})` : ''} × {o.quantity}
                    <div className="muted small">
                      {o.id} · {new Date(o.created_at).toLocaleString()}
                    </div>
                  </td>
                  <td data-label="Buyer">
                    {o.network === 'local' ? '@' : ''}
                    {o.handle}
                    {o.network !== 'local' ? (
                      <span className="muted small"> ({o.network})</span>
                    ) : null}
                  </td>
                  <td data-label="Status">
                    <span
                      className={`badge ${o.status === 'paid' ? 'badge-good' : o.status.startsWith('refund') || o.status === 'failed' ? 'badge-bad' : ''}`}
                    >
                      {ORDER_STATUS[o.status] ?? o.status}
                    </span>
                    {f ? (
                      <div className="muted small">
                        shipped{f.carrier ? ` · ${f.carrier}` : ''}
                        {f.tracking ? ` ${f.tracking}` : ''}
                      </div>
                    ) : null}
                  </td>
                  <td data-label="Amount" className="num">
                    {formatMoney(o.amount, o.currency)}
                  </td>
                  <td data-label="Actions">
                    {shipping === o.id ? (
                      <Fulfil
                        order={o}
                        onDone={() => {
                          setShipping(null);
                          props.onChange();
                        }}
                      />
                    ) : confirmRefund === o.id ? (
                      <div
                        className="actions"
                        role="group"
                        aria-label={`Confirm the refund of ${o.id}`}
                      >
                        <button
                          type="button"
                          className="danger small"
                          disabled={busy === o.id}
                          onClick={() => refund(o)}
                        >
                          Refund {formatMoney(o.amount, o.currency)}
                        </button>
                        <button
                          type="button"
                          className="secondary small"
                          onClick={() => setConfirmRefund(null)}
                        >
                          Keep
                        </button>
                      </div>
                    ) : o.status === 'paid' ? (
                      <div className="actions">
                        {!f ? (
                          <button
                            type="button"
                            className="small"
                            onClick={() => setShipping(o.id)}
                            aria-label={`Fulfil ${o.id}`}
                          >
                            Fulfil
                          </button>
                        ) : null}
                        <button
                          type="button"
                          className="secondary small"
                          onClick={() => setConfirmRefund(o.id)}
                          aria-label={`Refund ${o.id}`}
                        >
                          Refund
                        </button>
                      </div>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Fulfil({ order, onDone }: { order: Order; onDone: () => void }) {
  const [carrier, setCarrier] = useState('');
  const [tracking, setTracking] = useState('');
  const form = useSubmit(['carrier', 'tracking']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(() =>
      api('POST', `/v1/orders/${order.id}/fulfilment`, {
        ...(carrier.trim() && { carrier: carrier.trim() }),
        ...(tracking.trim() && { tracking: tracking.trim() }),
      }),
    );
    if (r) onDone();
  };
  return (
    <form onSubmit={submit} noValidate aria-label={`Fulfil ${order.id}`}>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      <Field
        label="Carrier (optional)"
        value={carrier}
        onChange={(e) => setCarrier(e.target.value)}
        error={form.fieldErrors.carrier}
      />
      <Field
        label="Tracking number (optional)"
        value={tracking}
        onChange={(e) => setTracking(e.target.value)}
        error={form.fieldErrors.tracking}
      />
      <div className="actions">
        <button type="submit" className="small" disabled={form.busy}>
          Mark shipped
        </button>
        <button type="button" className="secondary small" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface Delivery {
  id: string;
  status: 'pending' | 'delivered' | 'dead';
  event_type: string;
  url: string;
  attempts: number;
  last_error: string | null;
  delivered_at: string | null;
}

function Webhooks() {
  const [url, setUrl] = useState<string | null | undefined>(undefined);
  const [deliveries, setDeliveries] = useState<Delivery[] | 'missing' | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const load = useCallback(async () => {
    api<{ webhook_url?: string | null }>('GET', '/v1/merchants/me').then(
      (m) => setUrl(m.webhook_url ?? null),
      () => setUrl(null),
    );
    api<{ data: Delivery[] }>('GET', '/v1/webhook-deliveries').then(
      (d) => setDeliveries(d.data),
      (e) => setDeliveries(missingRoute(e) ? 'missing' : []),
    );
  }, []);
  useEffect(() => {
    load();
  }, [load]);
  const again = async (d: Delivery) => {
    try {
      await api('POST', `/v1/webhook-deliveries/${d.id}/retry`, undefined, {
        idempotencyKey: idempotencyKey(),
      });
      setMessage({ kind: 'ok', text: `${d.event_type} will be sent again.` });
      load();
    } catch (e) {
      setMessage({ kind: 'error', text: plainMessage(e) });
    }
  };
  return (
    <section className="panel" id="webhooks" aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <p>
        Endpoint:{' '}
        {url ? <code>{url}</code> : url === null ? <span className="muted">none set</span> : '…'}
      </p>
      <p className="hint">
        Each request is signed:{' '}
        <code>Tagpay-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")</code>.
      </p>
      {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
      {deliveries === 'missing' ? (
        <p className="muted">The delivery log is not available on this tagpay.</p>
      ) : deliveries && deliveries.length === 0 ? (
        <p className="muted">No deliveries yet.</p>
      ) : deliveries ? (
        <div className="table-wrap">
          <table className="stack">
            <caption className="sr-only">Webhook deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td data-label="Event">
                    {d.event_type}
                    <div className="muted small">{d.id}</div>
                  </td>
                  <td data-label="Status">
                    <span
                      className={`badge ${d.status === 'delivered' ? 'badge-good' : d.status === 'dead' ? 'badge-bad' : ''}`}
                    >
                      {d.status}
                    </span>
                  </td>
                  <td data-label="Attempts" className="num">
                    {d.attempts}
                  </td>
                  <td data-label="Last error" className="small">
                    {d.last_error ?? '—'}
                  </td>
                  <td data-label="Actions">
                    {d.status === 'dead' ? (
                      <button
                        type="button"
                        className="secondary small"
                        onClick={() => again(d)}
                        aria-label={`Send ${d.event_type} again`}
                      >
                        Send again
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

interface ApiKey {
  id: string;
  name: string | null;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function ApiKeys() {
  const [keys, setKeys] = useState<ApiKey[] | 'missing' | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const [name, setName] = useState('');
  const form = useSubmit(['name']);
  const load = useCallback(() => {
    api<{ data: ApiKey[] }>('GET', '/v1/api-keys').then(
      (k) => setKeys(k.data),
      (e) => setKeys(missingRoute(e) ? 'missing' : []),
    );
  }, []);
  useEffect(load, [load]);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(() =>
      api<ApiKey & { key: string | null }>(
        'POST',
        '/v1/api-keys',
        { ...(name.trim() && { name: name.trim() }), scopes: ['read', 'write'] },
        { idempotencyKey: idempotencyKey() },
      ),
    );
    if (r) {
      setShown(r.key);
      setName('');
      load();
    }
  };
  const revoke = async (k: ApiKey) => {
    await form.run(() =>
      api('POST', `/v1/api-keys/${k.id}/revoke`, undefined, { idempotencyKey: idempotencyKey() }),
    );
    load();
  };
  return (
    <section className="panel" id="keys" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {keys === 'missing' ? (
        <p className="muted">
          Managing keys here is not available on this tagpay; the operator can replace a key (
          <code>POST /v1/merchants/{'{id}'}/keys</code>).
        </p>
      ) : (
        <>
          {form.error ? <Notice kind="error">{form.error}</Notice> : null}
          {shown ? (
            <Notice kind="ok">
              Your new key — copy it now, it is shown once:
              <code className="secret">{shown}</code>
              <button type="button" className="link" onClick={() => setShown(null)}>
                I have copied it
              </button>
            </Notice>
          ) : null}
          {keys && keys.length > 0 ? (
            <div className="table-wrap">
              <table className="stack">
                <caption className="sr-only">API keys</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last used</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {keys.map((k) => (
                    <tr key={k.id}>
                      <td data-label="Name">{k.name ?? k.id}</td>
                      <td data-label="Scopes">{k.scopes.join(', ')}</td>
                      <td data-label="Created">{new Date(k.created_at).toLocaleDateString()}</td>
                      <td data-label="Last used">
                        {k.last_used_at ? new Date(k.last_used_at).toLocaleString() : '—'}
                      </td>
                      <td data-label="Actions">
                        {k.revoked_at ? (
                          <span className="badge">revoked</span>
                        ) : (
                          <button
                            type="button"
                            className="secondary small"
                            onClick={() => revoke(k)}
                            aria-label={`Revoke ${k.name ?? k.id}`}
                          >
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          <form onSubmit={create} noValidate className="actions">
            <Field
              label="New key's name (optional)"
              value={name}
              onChange={(e) => setName(e.target.value)}
              error={form.fieldErrors.name}
            />
            <button type="submit" disabled={form.busy}>
              Create key
            </button>
          </form>
        </>
      )}
    </section>
  );
}

function OfferDetail({ id }: { id: string }) {
  const [offer, setOffer] = useState<Offer | null>(null);
  const [funnel, setFunnel] = useState<Funnel | null>(null);
  const [waitlist, setWaitlist] = useState<
    {
      id: string;
      handle: string;
      network: string;
      variant: string | null;
      quantity: number;
      status: string;
      joined_at: string;
    }[]
  >([]);
  const { orders, fulfilled, load: loadOrders } = useOrders();
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const [o, f, w] = await Promise.all([
        api<Offer>('GET', `/v1/offers/${id}`),
        api<Funnel>('GET', `/v1/offers/${id}/funnel`),
        api<{ data: typeof waitlist }>('GET', `/v1/offers/${id}/waitlist`),
      ]);
      setOffer(o);
      setFunnel(f);
      setWaitlist(w.data);
      await loadOrders();
      setError(null);
    } catch (e) {
      setError(plainMessage(e));
    }
  }, [id, loadOrders]);
  useEffect(() => {
    load();
    const t = setInterval(load, LIVE_REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);
  const mine = orders.filter((o) => o.offer_id === id);
  return (
    <Layout title={offer ? offer.title : 'Offer'}>
      <p>
        <Link to="/merchant">← All offers</Link>
        {offer ? (
          <span className="muted">
            {' '}
            · #{offer.hashtag} · {formatMoney(offer.price.amount, offer.price.currency)} ·{' '}
            {offer.available} of {offer.quantity} left · <OfferStatus offer={offer} />
          </span>
        ) : null}
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="grid">
        <section className="panel" aria-labelledby="funnel-title">
          <h2 id="funnel-title">
            Funnel <span className="muted small">· updated every {LIVE_REFRESH_MS / 1000} s</span>
          </h2>
          {funnel ? (
            <FunnelChart
              steps={[
                { label: 'Hashtag posts', value: funnel.hashtag_posts },
                { label: 'Checkouts', value: funnel.checkouts },
                { label: 'Confirmed', value: funnel.confirmed },
                { label: 'Paid', value: funnel.paid },
                { label: 'Refunded', value: funnel.refunded },
              ]}
            />
          ) : null}
        </section>
        <section className="panel" aria-labelledby="revenue-title">
          <h2 id="revenue-title">Revenue by day</h2>
          {funnel ? <RevenueChart days={funnel.revenue} currency={funnel.currency} /> : null}
        </section>
      </div>
      <section className="panel" aria-labelledby="offer-orders-title">
        <h2 id="offer-orders-title">Orders</h2>
        <OrdersTable
          orders={mine}
          fulfilled={fulfilled}
          titles={new Map(offer ? [[offer.id, offer.title]] : [])}
          onChange={load}
        />
      </section>
      <section className="panel" aria-labelledby="waitlist-title">
        <h2 id="waitlist-title">Waitlist</h2>
        {waitlist.length === 0 ? (
          <p className="muted">Nobody is waiting.</p>
        ) : (
          <div className="table-wrap">
            <table className="stack">
              <caption className="sr-only">Waitlist, first in first out</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Handle</th>
                  <th scope="col">Wants</th>
                  <th scope="col">Since</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {waitlist.map((w, i) => (
                  <tr key={w.id}>
                    <td data-label="#">{i + 1}</td>
                    <td data-label="Handle">
                      {w.network === 'local' ? '@' : ''}
                      {w.handle}
                    </td>
                    <td data-label="Wants">
                      {w.quantity}
                      {w.variant ? ` × ${w.variant}` : ''}
                    </td>
                    <td data-label="Since">{new Date(w.joined_at).toLocaleString()}</td>
                    <td data-label="Status">{w.status}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}
