import type { Sql } from '../../store/db.ts';
import { insertNew, upsertRows, type Column } from '../../store/set-sql.ts';
import type { MoneyEffects } from './money-state.ts';

const PAYMENT_COLUMNS: Column[] = [
  ['id', 'text'],
  ['kind', 'text'],
  ['payer_id', 'text'],
  ['payer_network', 'text'],
  ['payer_handle', 'text'],
  ['recipient_network', 'text'],
  ['recipient_handle', 'text'],
  ['recipient_id', 'text'],
  ['amount_minor', 'bigint'],
  ['currency', 'text'],
  ['memo', 'text'],
  ['status', 'text'],
  ['code_hash', 'text'],
  ['expires_at', 'bigint'],
  ['wallet_minor', 'bigint'],
  ['card_minor', 'bigint'],
  ['hold_id', 'text'],
  ['charge_id', 'text'],
  ['network', 'text'],
  ['post_id', 'text'],
  ['failure', 'text'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
];
const WALLET_OP_COLUMNS: Column[] = [
  ['id', 'text'],
  ['kind', 'text'],
  ['shopper_id', 'text'],
  ['amount_minor', 'bigint'],
  ['currency', 'text'],
  ['status', 'text'],
  ['hold_id', 'text'],
  ['processor_ref', 'text'],
  ['failure', 'text'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
];
const GIFT_CARD_COLUMNS: Column[] = [
  ['id', 'text'],
  ['code_hash', 'text'],
  ['order_id', 'text'],
  ['offer_id', 'text'],
  ['buyer_id', 'text'],
  ['value_minor', 'bigint'],
  ['currency', 'text'],
  ['redeemed_by', 'text'],
  ['redeemed_at', 'bigint'],
  ['created_at', 'bigint'],
];

/**
 * Writes a batch's money effects in the batch's transaction, one statement per table. Holds and
 * their resolutions are only inserted: a second resolution of a hold fails on its primary key.
 */
export async function commitMoney(tx: Sql, fx: MoneyEffects): Promise<void> {
  await upsertRows(
    tx,
    'handle_payments',
    PAYMENT_COLUMNS,
    [...fx.payments].map((p) => [
      p.id,
      p.kind,
      p.payerId,
      p.payerNetwork,
      p.payerHandle,
      p.recipientNetwork,
      p.recipientHandle,
      p.recipientId,
      p.amountMinor,
      p.currency,
      p.memo,
      p.status,
      p.codeHash,
      p.expiresAt,
      p.walletMinor,
      p.cardMinor,
      p.holdId,
      p.chargeId,
      p.network,
      p.postId,
      p.failure,
      p.createdAt,
      p.updatedAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'wallet_ops',
    WALLET_OP_COLUMNS,
    [...fx.walletOps].map((o) => [
      o.id,
      o.kind,
      o.shopperId,
      o.amountMinor,
      o.currency,
      o.status,
      o.holdId,
      o.processorRef,
      o.failure,
      o.createdAt,
      o.updatedAt,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'holds',
    [
      ['id', 'text'],
      ['ref', 'text'],
      ['debit', 'text'],
      ['minor', 'bigint'],
      ['currency', 'text'],
      ['transfer_id', 'text'],
      ['expires_at', 'bigint'],
      ['created_at', 'bigint'],
    ],
    fx.holds.map(({ hold: h, transferId }) => [
      h.id,
      h.ref,
      h.debit,
      h.minor,
      h.currency,
      transferId,
      h.expiresAt,
      h.at,
    ]),
  );
  await upsertRows(
    tx,
    'hold_resolutions',
    [
      ['hold_id', 'text'],
      ['kind', 'text'],
      ['credit', 'text'],
      ['transfer_id', 'text'],
      ['at', 'bigint'],
    ],
    fx.resolutions.map((r) => [r.holdId, r.kind, r.credit, r.transferId, r.at]),
  );
  await upsertRows(
    tx,
    'shopper_settings',
    [
      ['shopper_id', 'text'],
      ['visibility', 'text'],
      ['default_currency', 'text'],
      ['updated_at', 'bigint'],
    ],
    [...fx.settings].map(([id, s]) => [id, s.visibility, s.defaultCurrency, s.at]),
    'shopper_id',
  );
  await insertNew(
    tx,
    'gift_card_offers',
    [
      ['offer_id', 'text'],
      ['value_minor', 'bigint'],
    ],
    fx.giftOffers.map((g) => [g.offerId, g.valueMinor]),
  );
  await upsertRows(
    tx,
    'gift_cards',
    GIFT_CARD_COLUMNS,
    [...fx.giftCards].map((g) => [
      g.id,
      g.codeHash,
      g.orderId,
      g.offerId,
      g.buyerId,
      g.valueMinor,
      g.currency,
      g.redeemedBy,
      g.redeemedAt,
      g.createdAt,
    ]),
    'id',
  );
}
