import { DAY_MS, OAUTH_CODE_TTL_MS, OFFER_POSTS_MAX } from '../../core/limits.ts';
import { big, num, type Sql } from '../../store/db.ts';
import { upsertRows, insertNew, type Column } from '../../store/set-sql.ts';
import { spentKey } from '../decide.ts';
import { handleKey, type State } from '../state.ts';
import type { CartItem, CheckoutEffects, Payment, PayRequest } from './checkout-state.ts';

/** Writes and reads the checkout flows' tables (migration 0007), beside commit.ts and load.ts. */

const PAYMENT_COLUMNS: Column[] = [
  ['id', 'text'],
  ['kind', 'text'],
  ['network', 'text'],
  ['account', 'text'],
  ['shopper_id', 'text'],
  ['merchant_id', 'text'],
  ['order_ids', 'text'],
  ['cart_item_ids', 'text'],
  ['amount_minor', 'bigint'],
  ['fee_minor', 'bigint'],
  ['currency', 'text'],
  ['status', 'text'],
  ['code_hash', 'text'],
  ['expires_at', 'bigint'],
  ['post_id', 'text'],
  ['client_id', 'text'],
  ['request_id', 'text'],
  ['redirect_uri', 'text'],
  ['code_challenge', 'text'],
  ['code_used_at', 'bigint'],
  ['charge_id', 'text'],
  ['failure', 'text'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
];
const CART_COLUMNS: Column[] = [
  ['id', 'text'],
  ['network', 'text'],
  ['account', 'text'],
  ['offer_id', 'text'],
  ['variant', 'text'],
  ['quantity', 'int'],
  ['post_id', 'text'],
  ['added_at', 'bigint'],
  ['seq', 'bigint'],
  ['status', 'text'],
];
const CLIENT_COLUMNS: Column[] = [
  ['id', 'text'],
  ['merchant_id', 'text'],
  ['name', 'text'],
  ['secret_hash', 'text'],
  ['redirect_uris', 'text'],
  ['webhook_url', 'text'],
  ['created_at', 'bigint'],
];
const REQUEST_COLUMNS: Column[] = [
  ['id', 'text'],
  ['client_id', 'text'],
  ['merchant_id', 'text'],
  ['amount_minor', 'bigint'],
  ['currency', 'text'],
  ['description', 'text'],
  ['reference', 'text'],
  ['status', 'text'],
  ['payment_id', 'text'],
  ['expires_at', 'bigint'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
];

/** One statement per table, in the batch's transaction (called by commitEffects). */
export async function commitCheckout(tx: Sql, fx: CheckoutEffects): Promise<void> {
  await upsertRows(
    tx,
    'shop_clients',
    CLIENT_COLUMNS,
    [...fx.clients].map((c) => [
      c.id,
      c.merchantId,
      c.name,
      c.secretHash,
      JSON.stringify(c.redirectUris),
      c.webhookUrl,
      c.createdAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'pay_requests',
    REQUEST_COLUMNS,
    [...fx.payRequests].map((r) => [
      r.id,
      r.clientId,
      r.merchantId,
      r.amountMinor,
      r.currency,
      r.description,
      r.reference,
      r.status,
      r.paymentId,
      r.expiresAt,
      r.createdAt,
      r.updatedAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'payments',
    PAYMENT_COLUMNS,
    [...fx.payments].map((p) => [
      p.id,
      p.kind,
      p.network,
      p.account,
      p.shopperId,
      p.merchantId,
      JSON.stringify(p.orderIds),
      JSON.stringify(p.cartItemIds),
      p.amountMinor,
      p.feeMinor,
      p.currency,
      p.status,
      p.codeHash,
      p.expiresAt,
      p.postId,
      p.clientId,
      p.requestId,
      p.redirectUri,
      p.codeChallenge,
      p.codeUsedAt,
      p.chargeId,
      p.failure,
      p.createdAt,
      p.updatedAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'cart_items',
    CART_COLUMNS,
    [...fx.cartItems].map((i) => [
      i.id,
      i.network,
      i.account,
      i.offerId,
      i.variant,
      i.quantity,
      i.postId,
      i.addedAt,
      i.seq,
      i.status,
    ]),
    'id',
  );
  await insertNew(
    tx,
    'offer_posts',
    [
      ['network', 'text'],
      ['post_id', 'text'],
      ['offer_id', 'text'],
    ],
    fx.offerPosts.map((p) => [p.network, p.postId, p.offerId]),
  );
}

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;
const strOrNull = (v: unknown) => (v === null ? null : (v as string));
const numOrNull = (v: unknown) => (v === null ? null : num(v));

export function paymentFromRow(r: Row): Payment {
  return {
    id: str(r.id),
    kind: str(r.kind) as Payment['kind'],
    network: str(r.network),
    account: str(r.account),
    shopperId: str(r.shopper_id),
    merchantId: strOrNull(r.merchant_id),
    orderIds: JSON.parse(str(r.order_ids)),
    cartItemIds: JSON.parse(str(r.cart_item_ids)),
    amountMinor: big(r.amount_minor),
    feeMinor: big(r.fee_minor),
    currency: str(r.currency),
    status: str(r.status) as Payment['status'],
    codeHash: strOrNull(r.code_hash),
    expiresAt: num(r.expires_at),
    postId: strOrNull(r.post_id),
    clientId: strOrNull(r.client_id),
    requestId: strOrNull(r.request_id),
    redirectUri: strOrNull(r.redirect_uri),
    codeChallenge: strOrNull(r.code_challenge),
    codeUsedAt: numOrNull(r.code_used_at),
    chargeId: strOrNull(r.charge_id),
    failure: strOrNull(r.failure),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function cartItemFromRow(r: Row): CartItem {
  return {
    id: str(r.id),
    network: str(r.network),
    account: str(r.account),
    offerId: str(r.offer_id),
    variant: strOrNull(r.variant),
    quantity: num(r.quantity),
    postId: str(r.post_id),
    addedAt: num(r.added_at),
    seq: big(r.seq),
    status: str(r.status) as CartItem['status'],
  };
}

export function payRequestFromRow(r: Row): PayRequest {
  return {
    id: str(r.id),
    clientId: str(r.client_id),
    merchantId: str(r.merchant_id),
    amountMinor: big(r.amount_minor),
    currency: str(r.currency),
    description: str(r.description),
    reference: strOrNull(r.reference),
    status: str(r.status) as PayRequest['status'],
    paymentId: strOrNull(r.payment_id),
    expiresAt: num(r.expires_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/**
 * The payments a start reloads: those waiting for a code, an approval or a charge, and pay-with-tagpay
 * payments whose authorization code a shop may still exchange ($1: the oldest such code's time).
 * Each part is read from its own partial index (0014-payments-open.sql).
 */
export const OPEN_PAYMENTS_SQL = `SELECT * FROM payments
  WHERE status IN ('awaiting_confirmation', 'awaiting_step_up', 'charging')
     OR (kind = 'oauth' AND code_used_at IS NULL AND created_at >= $1)
  ORDER BY created_at`;

/** Rebuilds `state.checkout` (called by loadState, after offers, shoppers and orders). */
export async function loadCheckout(db: Sql, state: State, lastAt: number): Promise<void> {
  const c = state.checkout;
  const posts = await db.query<Row>(
    `SELECT p.network, p.post_id, p.offer_id FROM offer_posts p
     JOIN offers o ON o.id = p.offer_id AND o.status <> 'ended' ORDER BY o.created_at LIMIT $1`,
    [OFFER_POSTS_MAX],
  );
  for (const r of posts.rows)
    c.offerByPost.set(`${str(r.network)}:${str(r.post_id)}`, str(r.offer_id));
  for (const r of (
    await db.query<Row>("SELECT * FROM cart_items WHERE status = 'in_cart' ORDER BY seq")
  ).rows) {
    const item = cartItemFromRow(r);
    const key = handleKey(item.network, item.account);
    const cart = c.carts.get(key) ?? [];
    cart.push(item);
    c.carts.set(key, cart);
  }
  for (const r of (await db.query<Row>('SELECT * FROM shop_clients')).rows) {
    c.clients.set(str(r.id), {
      id: str(r.id),
      merchantId: str(r.merchant_id),
      name: str(r.name),
      secretHash: str(r.secret_hash),
      redirectUris: JSON.parse(str(r.redirect_uris)),
      webhookUrl: strOrNull(r.webhook_url),
      createdAt: num(r.created_at),
    });
  }
  for (const r of (
    await db.query<Row>("SELECT * FROM pay_requests WHERE status = 'open' ORDER BY created_at")
  ).rows) {
    const request = payRequestFromRow(r);
    c.payRequests.set(request.id, request);
  }
  const open = await db.query<Row>(OPEN_PAYMENTS_SQL, [lastAt - OAUTH_CODE_TTL_MS]);
  const charging: Payment[] = [];
  for (const r of open.rows) {
    const payment = paymentFromRow(r);
    c.payments.set(payment.id, payment);
    if (payment.status === 'awaiting_confirmation' && payment.codeHash !== null)
      c.paymentByCode.set(payment.codeHash, payment);
    if (payment.status === 'awaiting_step_up') state.deadlines.push(payment.expiresAt, payment.id);
    // The web cart's items left the cart when it was checked out, charged or waiting for a step-up.
    const out =
      payment.status === 'charging' ||
      (payment.status === 'awaiting_step_up' && payment.kind === 'cart');
    if (out && payment.cartItemIds.length > 0) charging.push(payment);
  }
  // The cart items of payments being charged, in one query: back in the cart if a charge fails.
  const items = await db.query<Row>(
    'SELECT * FROM cart_items WHERE id = ANY($1::text[]) ORDER BY seq',
    [charging.flatMap((p) => p.cartItemIds)],
  );
  const byId = new Map(items.rows.map((r) => [str(r.id), cartItemFromRow(r)]));
  for (const payment of charging) {
    c.checkedOut.set(
      payment.id,
      payment.cartItemIds.flatMap((id) => byId.get(id) ?? []),
    );
  }
  // The spend of pay-with-tagpay payments counts against daily limits, as orders' does.
  const spent = await db.query<Row>(
    `SELECT network, account, currency, floor(created_at / ${DAY_MS})::bigint AS day, sum(amount_minor)::text AS s
     FROM payments WHERE kind = 'oauth' AND status IN ('awaiting_step_up', 'charging', 'paid') AND created_at >= $1 GROUP BY 1, 2, 3, 4`,
    [lastAt - 2 * DAY_MS],
  );
  for (const r of spent.rows) {
    const sk = spentKey(
      handleKey(str(r.network), str(r.account)),
      str(r.currency),
      num(r.day) * DAY_MS,
    );
    state.spent.set(sk, (state.spent.get(sk) ?? 0n) + big(r.s));
  }
}
