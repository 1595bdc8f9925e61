import type { DeclineReason } from '../core/replies.ts';
import type { CardCreditResultEvent, MoneyCommand } from './flows/money-events.ts';
import type { OfferEditCommand } from './flows/offer-edit.ts';
import type { CardOfferCommand, CardTransactionEvent } from './flows/card-offers-state.ts';
import type { PayoutCommand, PayoutResultEvent } from './flows/payouts-state.ts';

export type { CardTransactionEvent, PayoutResultEvent };
import type { CheckoutCommand, OfferPostedEvent } from './flows/checkout-events.ts';

/**
 * The inputs of the engine, as they are stored in the input log. Each has a natural unique key (the
 * log's `key` column): a duplicate is dropped at the door, so redelivery and replay are harmless.
 */

/** A post from any network, normalized by its connector. Key: `post:<network>:<post id>`. */
export interface PostEvent {
  kind: 'post';
  network: string;
  postId: string;
  /**
   * The author's account on the network: the handle on the local network and on Mastodon
   * (`user@server`), the DID on Bluesky (a Bluesky handle can change hands; the DID cannot), the
   * lower-case username without `@` on X (a username can change or be taken over; see authorId).
   */
  author: string;
  /** The network's stable numeric id of the author where it differs from `author` (X's user id). */
  authorId?: string;
  text: string;
  replyTo: string | null;
}

/** An API command. Key: `api:<principal>:<idempotency key>`. */
export interface ApiEvent {
  kind: 'api';
  principal: string;
  requestHash: string;
  command: ApiCommand;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string | undefined;
  city: string;
  region?: string | undefined;
  postal_code: string;
  country: string;
}

export type ApiCommand =
  | OfferEditCommand
  | CheckoutCommand
  | {
      op: 'merchant.create';
      network: string;
      handle: string;
      name: string;
      webhookUrl: string | null;
      webhookSecret: string;
      keyHash: string;
      feeBps: number | null;
    }
  | {
      op: 'offer.create';
      merchantId: string;
      title: string;
      priceMinor: string;
      currency: string;
      quantity: number;
      hashtag: string;
      variants: string[];
      perBuyerMax: number | null;
      windowMs: number;
      startsAt: number | null;
      endsAt: number | null;
      publish: boolean;
    }
  | {
      op: 'offer.set_status';
      merchantId: string;
      offerId: string;
      status: 'live' | 'paused' | 'ended';
    }
  | {
      op: 'order.refund';
      merchantId: string | null;
      orderId: string;
      restock: boolean;
      /** A partial refund's amount; absent or null: whatever is left to refund. */
      amountMinor?: string | null;
      /** Units to put back on sale when `restock` (absent: the order's whole quantity). */
      restockQuantity?: number | null;
    }
  | CardOfferCommand
  | PayoutCommand
  | { op: 'merchant.add_handle'; merchantId: string; network: string; handle: string }
  | { op: 'merchant.rotate_key'; merchantId: string; keyHash: string }
  | {
      op: 'shopper.add_handle';
      shopperId: string;
      network: string;
      /** The account posts come from, resolved (or proven) at the edge. */
      account: string;
      handle: string;
    }
  | {
      op: 'shopper.link';
      network: string;
      /** The account posts come from (see PostEvent.author), resolved from the handle at the edge. */
      account: string;
      handle: string;
      email: string;
      shippingAddress: ShippingAddress;
      cardToken: string;
      cardBrand: string;
      cardLast4: string;
      purchaseLimitMinor: string | null;
      dailyLimitMinor: string | null;
      limitCurrency: string | null;
      /** The processor's fingerprint of the card (same card, same fingerprint), for velocity per card. */
      cardFingerprint?: string | null;
      /** Purchases above this (in limitCurrency) ask for a step-up by e-mail. */
      stepUpAboveMinor?: string | null;
    }
  | SafetyCommand
  | MoneyCommand;

/** Commands of the fraud controls and API security (src/engine/flows/safety.ts). */
export type SafetyCommand =
  /** The e-mailed step-up link was followed: the subject (an order, or a payment) may go on. */
  | { op: 'step_up.approve'; subjectId: string }
  /** A "not me" link, or the operator: the account's pending checkouts end and it cannot buy. */
  | { op: 'shopper.freeze'; network: string; account: string; by: 'shopper' | 'operator' }
  | { op: 'shopper.unfreeze'; network: string; account: string }
  | { op: 'merchant.set_verified'; merchantId: string; verified: boolean }
  | {
      op: 'api_key.create';
      merchantId: string;
      keyHash: string;
      scopes: ('read' | 'write')[];
      name: string | null;
    }
  | { op: 'api_key.revoke'; merchantId: string; keyId: string }
  | {
      op: 'merchant.rotate_webhook_secret';
      merchantId: string;
      secret: string;
      previousForMs: number;
    }
  | { op: 'merchant.retire_webhook_secret'; merchantId: string };

/** The processor's answer to a charge, written back by the outbox worker. Key: `charge:<order id>`. */
export interface ChargeResultEvent {
  kind: 'charge_result';
  orderId: string;
  ok: boolean;
  reason: DeclineReason | null;
  chargeId: string | null;
}

/** The processor's answer to a refund. Key: `refund:<order id>`. */
export interface RefundResultEvent {
  kind: 'refund_result';
  orderId: string;
  ok: boolean;
  refundId: string | null;
  restock: boolean;
  error: string | null;
  /** The refunded amount, for partial refunds (absent: the order's whole amount). */
  amountMinor?: string;
  restockQuantity?: number;
}

/** The clock passing a deadline. Key: `tick:<at>`. */
export interface TickEvent {
  kind: 'tick';
}

export type EventBody =
  | PostEvent
  | ApiEvent
  | ChargeResultEvent
  | RefundResultEvent
  | TickEvent
  | CardTransactionEvent
  | PayoutResultEvent
  | OfferPostedEvent
  | CardCreditResultEvent;

export interface LogEntry {
  seq: bigint;
  key: string;
  at: number;
  body: EventBody;
}
