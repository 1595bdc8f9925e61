import type { Sql } from '../../store/db.ts';
import { big, num } from '../../store/db.ts';
import { insertNew, upsertRows } from '../../store/set-sql.ts';
import type { Effects, State } from '../state.ts';
import type { CardCredit, CardEnrolment, CardOffer } from './card-offers-state.ts';
import type { Payout } from './payouts-state.ts';

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;

/** Writes what a batch changed for card-linked offers and payouts, one statement per table. */
export async function commitCardPayoutEffects(tx: Sql, fx: Effects): Promise<void> {
  await upsertRows(
    tx,
    'card_offers',
    [
      ['id', 'text'],
      ['merchant_id', 'text'],
      ['title', 'text'],
      ['hashtag', 'text'],
      ['credit_minor', 'bigint'],
      ['min_spend_minor', 'bigint'],
      ['currency', 'text'],
      ['starts_at', 'bigint'],
      ['ends_at', 'bigint'],
      ['max_enrolments', 'int'],
      ['enrolled', 'int'],
      ['status', 'text'],
      ['created_at', 'bigint'],
    ],
    [...fx.cards.offers].map((o) => [
      o.id,
      o.merchantId,
      o.title,
      o.hashtag,
      o.creditMinor,
      o.minSpendMinor,
      o.currency,
      o.startsAt,
      o.endsAt,
      o.maxEnrolments,
      o.enrolled,
      o.status,
      o.createdAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'card_enrolments',
    [
      ['id', 'text'],
      ['card_offer_id', 'text'],
      ['shopper_id', 'text'],
      ['card_token', 'text'],
      ['network', 'text'],
      ['handle', 'text'],
      ['status', 'text'],
      ['enrolled_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    [...fx.cards.enrolments].map((e) => [
      e.id,
      e.cardOfferId,
      e.shopperId,
      e.cardToken,
      e.network,
      e.handle,
      e.status,
      e.enrolledAt,
      e.updatedAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'card_credits',
    [
      ['id', 'text'],
      ['txn_id', 'text'],
      ['enrolment_id', 'text'],
      ['card_offer_id', 'text'],
      ['merchant_id', 'text'],
      ['shopper_id', 'text'],
      ['network', 'text'],
      ['handle', 'text'],
      ['card_token', 'text'],
      ['purchase_minor', 'bigint'],
      ['refunded_minor', 'bigint'],
      ['credit_minor', 'bigint'],
      ['currency', 'text'],
      ['status', 'text'],
      ['created_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    [...fx.cards.credits].map((c) => [
      c.id,
      c.txnId,
      c.enrolmentId,
      c.cardOfferId,
      c.merchantId,
      c.shopperId,
      c.network,
      c.handle,
      c.cardToken,
      c.purchaseMinor,
      c.refundedMinor,
      c.creditMinor,
      c.currency,
      c.status,
      c.createdAt,
      c.updatedAt,
    ]),
    'id',
  );
  // A transaction id is decided once (its log key is unique); DO NOTHING keeps a replay harmless.
  await insertNew(
    tx,
    'card_transactions',
    [
      ['id', 'text'],
      ['type', 'text'],
      ['card_token', 'text'],
      ['merchant_id', 'text'],
      ['amount_minor', 'bigint'],
      ['currency', 'text'],
      ['occurred_at', 'bigint'],
      ['original_id', 'text'],
      ['outcome', 'text'],
      ['created_at', 'bigint'],
    ],
    fx.cards.transactions.map((t) => [
      t.id,
      t.type,
      t.cardToken,
      t.merchantId,
      t.amountMinor,
      t.currency,
      t.occurredAt,
      t.originalId,
      t.outcome,
      t.createdAt,
    ]),
  );
  await upsertRows(
    tx,
    'payout_runs',
    [
      ['id', 'text'],
      ['created_at', 'bigint'],
      ['payouts', 'int'],
    ],
    fx.payouts.runs.map((r) => [r.id, r.createdAt, r.payouts]),
  );
  await upsertRows(
    tx,
    'payouts',
    [
      ['id', 'text'],
      ['run_id', 'text'],
      ['merchant_id', 'text'],
      ['amount_minor', 'bigint'],
      ['currency', 'text'],
      ['status', 'text'],
      ['bank_ref', 'text'],
      ['failure', 'text'],
      ['created_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    [...fx.payouts.payouts].map((p) => [
      p.id,
      p.runId,
      p.merchantId,
      p.amountMinor,
      p.currency,
      p.status,
      p.bankRef,
      p.failure,
      p.createdAt,
      p.updatedAt,
    ]),
    'id',
  );
}

export function cardOfferFromRow(r: Row): CardOffer {
  return {
    id: str(r.id),
    merchantId: str(r.merchant_id),
    title: str(r.title),
    hashtag: str(r.hashtag),
    creditMinor: big(r.credit_minor),
    minSpendMinor: big(r.min_spend_minor),
    currency: str(r.currency),
    startsAt: num(r.starts_at),
    endsAt: num(r.ends_at),
    maxEnrolments: num(r.max_enrolments),
    enrolled: num(r.enrolled),
    status: str(r.status) as CardOffer['status'],
    createdAt: num(r.created_at),
  };
}

export function creditFromRow(r: Row): CardCredit {
  return {
    id: str(r.id),
    txnId: str(r.txn_id),
    enrolmentId: str(r.enrolment_id),
    cardOfferId: str(r.card_offer_id),
    merchantId: str(r.merchant_id),
    shopperId: str(r.shopper_id),
    network: str(r.network),
    handle: str(r.handle),
    cardToken: str(r.card_token),
    purchaseMinor: big(r.purchase_minor),
    refundedMinor: big(r.refunded_minor),
    creditMinor: big(r.credit_minor),
    currency: str(r.currency),
    status: str(r.status) as CardCredit['status'],
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function payoutFromRow(r: Row): Payout {
  return {
    id: str(r.id),
    runId: str(r.run_id),
    merchantId: str(r.merchant_id),
    amountMinor: big(r.amount_minor),
    currency: str(r.currency),
    status: str(r.status) as Payout['status'],
    bankRef: (r.bank_ref as string | null) ?? null,
    failure: (r.failure as string | null) ?? null,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** Rebuilds the card-linked offers and the payouts in flight from the tables, at start. */
export async function loadCardPayoutState(db: Sql, state: State): Promise<void> {
  const cards = state.cards;
  for (const r of (await db.query<Row>('SELECT * FROM card_offers ORDER BY created_at')).rows) {
    const offer = cardOfferFromRow(r);
    cards.offers.set(offer.id, offer);
    if (offer.status === 'live') cards.byTag.set(offer.hashtag.toLowerCase(), offer);
  }
  const enrolments = await db.query<Row>('SELECT * FROM card_enrolments ORDER BY enrolled_at, id');
  for (const r of enrolments.rows) {
    const e: CardEnrolment = {
      id: str(r.id),
      cardOfferId: str(r.card_offer_id),
      shopperId: str(r.shopper_id),
      cardToken: str(r.card_token),
      network: str(r.network),
      handle: str(r.handle),
      status: str(r.status) as CardEnrolment['status'],
      enrolledAt: num(r.enrolled_at),
      updatedAt: num(r.updated_at),
    };
    cards.enrolledKeys.add(`${e.cardOfferId}|${e.cardToken}`);
    if (e.status !== 'enrolled') continue;
    const list = cards.enrolledByCard.get(e.cardToken) ?? [];
    list.push(e);
    cards.enrolledByCard.set(e.cardToken, list);
  }
  const credits = await db.query<Row>("SELECT * FROM card_credits WHERE status = 'credited'");
  for (const r of credits.rows) {
    const c = creditFromRow(r);
    cards.creditsByTxn.set(c.txnId, c);
  }
  const pending = await db.query<Row>("SELECT * FROM payouts WHERE status = 'pending'");
  for (const r of pending.rows) {
    const p = payoutFromRow(r);
    state.payouts.pending.set(p.id, p);
  }
}
