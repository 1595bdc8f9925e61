import { DAY_MS, RETIRED_CODES_MAX } from '../core/limits.ts';
import type { Sql } from '../store/db.ts';
import { big, num } from '../store/db.ts';
import { spentKey } from './decide.ts';
import { loadSafety } from './flows/safety.ts';
import { loadMoney } from './flows/money-load.ts';
import { loadChainHead } from './ledger-store.ts';
import { loadCardPayoutState } from './flows/card-payout-store.ts';
import { loadCheckout, relinkWalletHolds } from './flows/checkout-store.ts';
import {
  ACTIVE_STATUSES,
  addPending,
  handleKey,
  PENDING_STATUSES,
  State,
  type Merchant,
  type Offer,
  type Order,
  type OrderStatus,
  type Shopper,
} from './state.ts';

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;
const strOrNull = (v: unknown) => (v === null ? null : (v as string));
const numOrNull = (v: unknown) => (v === null ? null : num(v));
const bigOrNull = (v: unknown) => (v === null ? null : big(v));

/**
 * Rebuilds the engine's state from the committed tables. They were written in the same transaction
 * as the log cursor, so the state matches the cursor exactly and the engine resumes right after it.
 */
export async function loadState(db: Sql): Promise<{ state: State; cursor: bigint }> {
  const state = new State();
  const cursorRow = (await db.query<Row>("SELECT value FROM cursors WHERE name = 'engine'"))
    .rows[0];
  const cursor = cursorRow ? BigInt(str(cursorRow.value)) : 0n;

  for (const r of (await db.query<Row>('SELECT * FROM merchants')).rows) {
    const m: Merchant = {
      id: str(r.id),
      network: str(r.network),
      handle: str(r.handle),
      alsoOn: [],
      name: str(r.name),
      webhookUrl: strOrNull(r.webhook_url),
      webhookSecret: str(r.webhook_secret),
      feeBps: numOrNull(r.fee_bps),
      createdAt: num(r.created_at),
      verified: r.verified === true,
      webhookSecretPrevious: strOrNull(r.webhook_secret_previous ?? null),
      webhookPreviousUntil: numOrNull(r.webhook_previous_until ?? null),
    };
    state.merchants.set(m.id, m);
    state.merchantByHandle.set(handleKey(m.network, m.handle), m);
  }
  for (const r of (await db.query<Row>('SELECT * FROM merchant_handles ORDER BY merchant_id'))
    .rows) {
    const m = state.merchants.get(str(r.merchant_id))!;
    m.alsoOn.push({ network: str(r.network), handle: str(r.handle) });
    state.merchantByHandle.set(handleKey(str(r.network), str(r.handle)), m);
  }
  for (const r of (
    await db.query<Row>("SELECT * FROM offers WHERE status <> 'ended' ORDER BY created_at")
  ).rows) {
    const o = offerFromRow(r);
    state.offers.set(o.id, o);
    state.offerByTag.set(o.hashtag.toLowerCase(), o);
  }
  for (const r of (await db.query<Row>('SELECT * FROM shoppers')).rows) {
    const shopper: Shopper = {
      id: str(r.id),
      network: str(r.network),
      account: str(r.account),
      handle: str(r.handle),
      alsoOn: [],
      email: str(r.email),
      shippingAddress: JSON.parse(str(r.shipping_address)),
      cardToken: str(r.card_token),
      cardBrand: str(r.card_brand),
      cardLast4: str(r.card_last4),
      purchaseLimitMinor: bigOrNull(r.purchase_limit_minor),
      dailyLimitMinor: bigOrNull(r.daily_limit_minor),
      limitCurrency: strOrNull(r.limit_currency),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    };
    state.shoppers.set(handleKey(shopper.network, shopper.account), shopper);
    state.shopperById.set(shopper.id, shopper);
  }
  for (const r of (
    await db.query<Row>('SELECT * FROM shopper_handles ORDER BY shopper_id, added_at')
  ).rows) {
    const shopper = state.shopperById.get(str(r.shopper_id))!;
    const handle = {
      network: str(r.network),
      account: str(r.account),
      handle: str(r.handle),
      addedAt: num(r.added_at),
    };
    shopper.alsoOn.push(handle);
    state.shoppers.set(handleKey(handle.network, handle.account), shopper);
  }
  const active = await db.query<Row>(
    'SELECT * FROM orders WHERE status = ANY($1::text[]) ORDER BY created_at',
    [ACTIVE_STATUSES],
  );
  for (const r of active.rows) {
    const order = orderFromRow(r);
    // An order of an offer that has since ended still settles: load its offer too.
    if (!state.offers.has(order.offerId)) {
      const offerRow = (await db.query<Row>('SELECT * FROM offers WHERE id = $1', [order.offerId]))
        .rows[0]!;
      state.offers.set(order.offerId, offerFromRow(offerRow));
    }
    state.activeOrders.set(order.id, order);
    if (order.status !== 'charging') {
      const key = handleKey(order.network, order.handle);
      addPending(state, key, order);
      state.deadlines.push(order.expiresAt, order.id);
      if (order.codeHash !== null) state.orderByCode.set(order.codeHash, order);
    }
  }
  const waiting = await db.query<Row>(
    "SELECT * FROM waitlist WHERE status = 'waiting' ORDER BY seq",
  );
  for (const r of waiting.rows) {
    const offerId = str(r.offer_id);
    let queue = state.waitlists.get(offerId);
    if (queue === undefined) state.waitlists.set(offerId, (queue = []));
    state.waiting.add(`${offerId}|${handleKey(str(r.network), str(r.handle))}`);
    queue.push({
      id: str(r.id),
      offerId,
      network: str(r.network),
      handle: str(r.handle),
      variant: strOrNull(r.variant),
      quantity: num(r.quantity),
      postId: str(r.post_id),
      joinedAt: num(r.joined_at),
      seq: big(r.seq),
      status: 'waiting',
    });
  }
  const held = await db.query<Row>(
    `SELECT o.offer_id, o.network, o.handle, sum(o.quantity)::int AS q FROM orders o
     JOIN offers f ON f.id = o.offer_id AND f.per_buyer_max IS NOT NULL AND f.status <> 'ended'
     WHERE o.status = ANY($1::text[]) GROUP BY 1, 2, 3`,
    [[...ACTIVE_STATUSES, 'paid', 'refunding']],
  );
  for (const r of held.rows) {
    state.held.set(`${str(r.offer_id)}|${handleKey(str(r.network), str(r.handle))}`, num(r.q));
  }
  const lastAt = (
    await db.query<Row>('SELECT max(at) AS at FROM log WHERE seq <= $1', [cursor.toString()])
  ).rows[0]?.at;
  const since = lastAt === null || lastAt === undefined ? 0 : num(lastAt) - 2 * DAY_MS;
  const spent = await db.query<Row>(
    `SELECT network, handle, currency, floor(created_at / ${DAY_MS})::bigint AS day, sum(amount_minor)::text AS s
     FROM orders WHERE status = ANY($1::text[]) AND created_at >= $2 GROUP BY 1, 2, 3, 4`,
    [[...ACTIVE_STATUSES, 'paid', 'refunding', 'refunded'], since],
  );
  for (const r of spent.rows) {
    const key = handleKey(str(r.network), str(r.handle));
    state.spent.set(spentKey(key, str(r.currency), num(r.day) * DAY_MS), big(r.s));
  }
  const retired = await db.query<Row>(
    `SELECT code_hash, network, handle, status, updated_at FROM orders
     WHERE code_hash IS NOT NULL AND NOT (status = ANY($1::text[])) AND updated_at >= $2 ORDER BY updated_at DESC LIMIT $3`,
    [PENDING_STATUSES, since + DAY_MS, RETIRED_CODES_MAX],
  );
  for (const r of retired.rows.reverse()) {
    const status = str(r.status);
    const reason = status === 'expired' ? 'expired' : status === 'canceled' ? 'canceled' : 'used';
    state.retiredCodes.set(str(r.code_hash), {
      handleKey: handleKey(str(r.network), str(r.handle)),
      reason,
      at: num(r.updated_at),
    });
  }
  await loadSafety(db, state, lastAt === null || lastAt === undefined ? 0 : num(lastAt));
  await loadCheckout(db, state, lastAt === null || lastAt === undefined ? 0 : num(lastAt));
  for (const r of (
    await db.query<Row>('SELECT account, currency, balance::text AS b FROM balances')
  ).rows) {
    state.balances.load(str(r.account), str(r.currency), big(r.b));
  }
  // The pair of the assertion made before every commit: what was read back sums to zero too.
  state.balances.assertZeroSum();
  await loadMoney(db, state, lastAt === null || lastAt === undefined ? 0 : num(lastAt));
  relinkWalletHolds(state);
  await loadCardPayoutState(db, state);
  const head = await loadChainHead(db);
  state.chain.n = head.n;
  state.chain.hash = head.hash;
  return { state, cursor };
}

export function offerFromRow(r: Row): Offer {
  return {
    id: str(r.id),
    merchantId: str(r.merchant_id),
    title: str(r.title),
    priceMinor: big(r.price_minor),
    currency: str(r.currency),
    quantity: num(r.quantity),
    available: num(r.available),
    sold: num(r.sold),
    variants: JSON.parse(str(r.variants)),
    perBuyerMax: numOrNull(r.per_buyer_max),
    hashtag: str(r.hashtag),
    windowMs: num(r.window_ms),
    startsAt: num(r.starts_at),
    endsAt: numOrNull(r.ends_at),
    status: str(r.status) as Offer['status'],
    publishedAt: numOrNull(r.published_at),
    createdAt: num(r.created_at),
    hashtagPosts: num(r.hashtag_posts),
  };
}

export function orderFromRow(r: Row): Order {
  return {
    id: str(r.id),
    offerId: str(r.offer_id),
    merchantId: str(r.merchant_id),
    shopperId: strOrNull(r.shopper_id),
    network: str(r.network),
    handle: str(r.handle),
    variant: strOrNull(r.variant),
    quantity: num(r.quantity),
    amountMinor: big(r.amount_minor),
    feeMinor: big(r.fee_minor),
    currency: str(r.currency),
    status: str(r.status) as OrderStatus,
    codeHash: strOrNull(r.code_hash),
    expiresAt: num(r.expires_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    postId: str(r.post_id),
    shippingAddress: r.shipping_address === null ? null : JSON.parse(str(r.shipping_address)),
    failure: strOrNull(r.failure),
    chargeId: strOrNull(r.charge_id),
    refundedMinor: r.refunded_minor === undefined ? 0n : big(r.refunded_minor),
    restocked: r.restocked === undefined ? 0 : num(r.restocked),
  };
}
