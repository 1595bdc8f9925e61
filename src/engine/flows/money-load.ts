import {
  CONFIRM_WINDOW_MS_DEFAULT,
  DAY_MS,
  HOUR_MS,
  RETIRED_CODES_MAX,
  WEEK_DAYS,
} from '../../core/limits.ts';
import { big, num, type Sql } from '../../store/db.ts';
import { handleKey, rememberRetired, shopperHandles, type State } from '../state.ts';
import { ACTIVE_PAYMENT_STATUSES, type Payment } from './money-state.ts';
import { cardSpentKey } from './safety.ts';

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;
const strOrNull = (v: unknown) => (v === null ? null : (v as string));

/**
 * Rebuilds the money state from its tables (after loadState has read the shoppers): what is in
 * flight, the holds not ended, the pairs that paid before, the recent sums for the limits.
 */
export async function loadMoney(db: Sql, state: State, lastAt: number): Promise<void> {
  const m = state.money;
  for (const shopper of state.shopperById.values())
    m.indexShopper(shopper, shopperHandles(shopper));
  for (const r of (await db.query<Row>('SELECT * FROM shopper_settings')).rows) {
    m.settings.set(str(r.shopper_id), {
      visibility: str(r.visibility) as 'public' | 'private',
      defaultCurrency: strOrNull(r.default_currency),
    });
  }
  const holds = await db.query<Row>(
    `SELECT h.* FROM holds h LEFT JOIN hold_resolutions r ON r.hold_id = h.id
     WHERE r.hold_id IS NULL ORDER BY h.created_at`,
  );
  for (const r of holds.rows) {
    m.holds.set(str(r.id), {
      id: str(r.id),
      ref: str(r.ref),
      debit: str(r.debit),
      minor: big(r.minor),
      currency: str(r.currency),
      at: num(r.created_at),
      expiresAt: r.expires_at === null ? null : num(r.expires_at),
    });
  }
  const active = await db.query<Row>(
    'SELECT * FROM handle_payments WHERE status = ANY($1::text[]) ORDER BY created_at',
    [ACTIVE_PAYMENT_STATUSES],
  );
  for (const r of active.rows) {
    const p = paymentFromRow(r);
    m.payments.set(p.id, p);
    if (p.status === 'awaiting_confirmation' && p.codeHash !== null) {
      m.paymentByCode.set(p.codeHash, p);
      m.deadlines.push(p.expiresAt, p.id);
    }
    if (p.status === 'awaiting_step_up') m.deadlines.push(p.expiresAt, p.id);
    if (p.status === 'pending_claim') {
      const key = `${p.recipientNetwork}:${p.recipientHandle}`;
      m.claims.set(key, [...(m.claims.get(key) ?? []), p]);
      m.deadlines.push(p.expiresAt, p.id);
    }
  }
  const pairs = await db.query<Row>(
    "SELECT DISTINCT payer_id, recipient_id FROM handle_payments WHERE status = 'completed'",
  );
  for (const r of pairs.rows) m.pairs.add(`${str(r.payer_id)}|${str(r.recipient_id)}`);
  // Enough days for the weekly limit, and the codes of a day's window.
  const since = lastAt - (WEEK_DAYS + 1) * DAY_MS - CONFIRM_WINDOW_MS_DEFAULT;
  const sent = await db.query<Row>(
    `SELECT payer_id, currency, floor(created_at / ${DAY_MS})::bigint AS day, sum(amount_minor)::text AS s
     FROM handle_payments WHERE status NOT IN ('expired', 'failed', 'canceled') AND created_at >= $1
     GROUP BY 1, 2, 3`,
    [since],
  );
  for (const r of sent.rows)
    m.sent.set(`${str(r.payer_id)}|${str(r.currency)}|${num(r.day)}`, big(r.s));
  const ops = await db.query<Row>("SELECT * FROM wallet_ops WHERE status = 'pending'");
  for (const r of ops.rows) {
    m.walletOps.set(str(r.id), {
      id: str(r.id),
      kind: str(r.kind) as 'top_up' | 'withdrawal',
      shopperId: str(r.shopper_id),
      amountMinor: big(r.amount_minor),
      currency: str(r.currency),
      status: 'pending',
      holdId: strOrNull(r.hold_id),
      processorRef: strOrNull(r.processor_ref),
      failure: strOrNull(r.failure),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    });
  }
  // Wallet parts of orders: held while charging, or posted and kept until the order is refunded.
  const parts = await db.query<Row>(
    `SELECT h.id, h.ref, h.minor::text AS minor, r.kind FROM holds h
     LEFT JOIN hold_resolutions r ON r.hold_id = h.id
     JOIN orders o ON o.id = h.ref
     WHERE r.kind IS NULL OR (r.kind = 'post' AND o.status IN ('paid', 'refunding'))`,
  );
  for (const r of parts.rows)
    m.orderWallet.set(str(r.ref), {
      holdId: r.kind === null ? str(r.id) : null,
      minor: big(r.minor),
    });
  for (const r of (await db.query<Row>('SELECT * FROM gift_card_offers')).rows)
    m.giftValues.set(str(r.offer_id), big(r.value_minor));
  for (const r of (await db.query<Row>('SELECT * FROM gift_cards')).rows) {
    m.giftCards.set(str(r.code_hash), {
      id: str(r.id),
      codeHash: str(r.code_hash),
      orderId: str(r.order_id),
      offerId: str(r.offer_id),
      buyerId: str(r.buyer_id),
      valueMinor: big(r.value_minor),
      currency: str(r.currency),
      redeemedBy: strOrNull(r.redeemed_by),
      redeemedAt: r.redeemed_at === null ? null : num(r.redeemed_at),
      createdAt: num(r.created_at),
    });
  }
  // Payment codes taken out of service in the last day, so a late or repeated one gets an answer.
  const retired = await db.query<Row>(
    `SELECT code_hash, payer_id, status, updated_at FROM handle_payments
     WHERE code_hash IS NOT NULL AND status <> 'awaiting_confirmation' AND updated_at > $1
     ORDER BY updated_at DESC LIMIT $2`,
    [lastAt - DAY_MS, RETIRED_CODES_MAX],
  );
  for (const r of retired.rows.reverse()) {
    const payer = state.shopperById.get(str(r.payer_id));
    if (payer === undefined) continue;
    const status = str(r.status);
    rememberRetired(state, str(r.code_hash), {
      handleKey: handleKey(payer.network, payer.account),
      reason: status === 'expired' ? 'expired' : status === 'canceled' ? 'canceled' : 'used',
      at: num(r.updated_at),
    });
  }
  await loadMoneySafety(db, state, lastAt);
  // The pair of the engine's assertion: what was read back holds no negative wallet.
  state.balances.assertNonNegative();
}

/**
 * What payments and top-ups count toward the fraud controls (after loadSafety has read the
 * purchases'): each payment that passed the spending check in the last hour toward the velocity of
 * its payer's handle and card, and what payments and top-ups charged to a card toward its daily
 * amount. A `#pay` passed the check when it was posted; a paid `#request` when it was confirmed.
 */
async function loadMoneySafety(db: Sql, state: State, lastAt: number): Promise<void> {
  const fingerprintOf = (shopperId: string) => {
    const shopper = state.shopperById.get(shopperId);
    if (shopper === undefined) return { shopper, fp: null };
    const guard = state.safety.guards.get(handleKey(shopper.network, shopper.account));
    return { shopper, fp: guard?.cardFingerprint ?? null };
  };
  const checked = await db.query<Row>(
    `SELECT payer_id, CASE WHEN kind = 'pay' THEN created_at ELSE updated_at END AS at
     FROM handle_payments
     WHERE (kind = 'pay' AND created_at > $1)
        OR (kind = 'request' AND updated_at > $1 AND status NOT IN
            ('awaiting_confirmation', 'expired', 'canceled', 'failed'))`,
    [lastAt - HOUR_MS],
  );
  const touched = new Set<string>();
  for (const r of checked.rows) {
    const { shopper, fp } = fingerprintOf(str(r.payer_id));
    if (shopper === undefined) continue;
    const keys = [`h|${handleKey(shopper.network, shopper.account)}`];
    if (fp !== null) keys.push(`c|${fp}`);
    for (const k of keys) {
      const times = state.safety.recent.get(k) ?? [];
      times.push(num(r.at));
      state.safety.recent.set(k, times);
      touched.add(k);
    }
  }
  // The velocity check drops times from the front: each list stays oldest first.
  for (const k of touched) state.safety.recent.get(k)!.sort((a, b) => a - b);
  const charged = await db.query<Row>(
    `SELECT shopper_id, currency, created_at, minor::text AS minor FROM (
       SELECT payer_id AS shopper_id, currency, created_at, card_minor AS minor FROM handle_payments
       WHERE card_minor > 0 AND created_at >= $1
         AND status IN ('charging', 'completed', 'pending_claim', 'returned')
       UNION ALL
       SELECT shopper_id, currency, created_at, amount_minor FROM wallet_ops
       WHERE kind = 'top_up' AND status IN ('pending', 'succeeded') AND created_at >= $1) x`,
    [lastAt - 2 * DAY_MS],
  );
  for (const r of charged.rows) {
    const { fp } = fingerprintOf(str(r.shopper_id));
    if (fp === null) continue;
    const k = cardSpentKey(fp, str(r.currency), num(r.created_at));
    state.safety.cardSpent.set(k, (state.safety.cardSpent.get(k) ?? 0n) + big(r.minor));
  }
}

export function paymentFromRow(r: Row): Payment {
  return {
    id: str(r.id),
    kind: str(r.kind) as Payment['kind'],
    payerId: str(r.payer_id),
    payerNetwork: str(r.payer_network),
    payerHandle: str(r.payer_handle),
    recipientNetwork: str(r.recipient_network),
    recipientHandle: str(r.recipient_handle),
    recipientId: strOrNull(r.recipient_id),
    amountMinor: big(r.amount_minor),
    currency: str(r.currency),
    memo: str(r.memo),
    status: str(r.status) as Payment['status'],
    codeHash: strOrNull(r.code_hash),
    expiresAt: num(r.expires_at),
    walletMinor: big(r.wallet_minor),
    cardMinor: big(r.card_minor),
    holdId: strOrNull(r.hold_id),
    chargeId: strOrNull(r.charge_id),
    network: str(r.network),
    postId: strOrNull(r.post_id),
    failure: strOrNull(r.failure),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}
