/**
 * The inputs of money to a handle, wallets and gift cards (issue 7), as stored in the input log.
 * Shoppers are named by their id (resolved from network and handle at the HTTP edge); gift card codes
 * only by their hash, so the log never holds a usable code.
 */
import type { ApiCommand } from '../events.ts';

export type MoneyCommand =
  | {
      op: 'giftcard.offer_create';
      offer: Extract<ApiCommand, { op: 'offer.create' }>;
      /** What one card is worth, in minor units of the offer's currency (its price is less). */
      valueMinor: string;
    }
  | {
      op: 'payment.create';
      kind: 'pay' | 'request';
      network: string;
      /** The payer's shopper id for a payment; the requester's (the recipient's) for a request. */
      shopperId: string;
      /** The other party's handle on `network`. */
      counterparty: string;
      /** The amount as written (`$10`, `10,50 €`), read by the same grammar as posts. */
      amount: string;
      memo: string;
    }
  | { op: 'payment.confirm'; paymentId: string; shopperId: string; codeHash: string }
  | { op: 'wallet.top_up'; shopperId: string; amountMinor: string; currency: string }
  | { op: 'wallet.withdraw'; shopperId: string; amountMinor: string; currency: string }
  | { op: 'giftcard.redeem'; shopperId: string; codeHash: string }
  | {
      op: 'shopper.settings';
      shopperId: string;
      visibility: 'public' | 'private' | null;
      defaultCurrency: string | null;
    };

/** The processor's answer to a credit to a card (a wallet withdrawal). Key: `credit:<op id>`. */
export interface CardCreditResultEvent {
  kind: 'card_credit_result';
  opId: string;
  ok: boolean;
  creditId: string | null;
  error: string | null;
}
