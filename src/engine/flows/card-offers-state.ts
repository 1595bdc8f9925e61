/**
 * Card-linked offers (Amex Sync offers, DESIGN.md flow 2): the data the engine keeps, the events and
 * commands that drive it, and the rows one batch writes. Pure data, no I/O; the decisions are in
 * card-offers.ts.
 */

/** "$10 off a purchase of $50 or more at Acme": a statement credit for a card purchase. */
export interface CardOffer {
  id: string;
  merchantId: string;
  title: string;
  hashtag: string;
  creditMinor: bigint;
  minSpendMinor: bigint;
  currency: string;
  startsAt: number;
  endsAt: number;
  maxEnrolments: number;
  enrolled: number;
  status: 'live' | 'ended';
  createdAt: number;
}

/** A card added to a card-linked offer: once per card, redeemed at most once. */
export interface CardEnrolment {
  id: string;
  cardOfferId: string;
  shopperId: string;
  cardToken: string;
  network: string;
  handle: string;
  status: 'enrolled' | 'redeemed';
  enrolledAt: number;
  updatedAt: number;
}

/** A statement credit for one card transaction; reversed if that transaction is refunded. */
export interface CardCredit {
  id: string;
  txnId: string;
  enrolmentId: string;
  cardOfferId: string;
  merchantId: string;
  shopperId: string;
  /** The shopper's network and account, for the e-mail. */
  network: string;
  handle: string;
  cardToken: string;
  purchaseMinor: bigint;
  refundedMinor: bigint;
  creditMinor: bigint;
  currency: string;
  status: 'credited' | 'reversed';
  createdAt: number;
  updatedAt: number;
}

/** A card transaction as decided: what it was and what came of it. */
export interface CardTransactionRow {
  id: string;
  type: 'purchase' | 'refund';
  cardToken: string;
  merchantId: string;
  amountMinor: bigint;
  currency: string;
  occurredAt: number;
  originalId: string | null;
  /** `credited`, `reversed`, or why nothing happened (`no_offer`, `below_minimum`, …). */
  outcome: string;
  createdAt: number;
}

/**
 * A card transaction from the processor, by its signed webhook or a settlement file. Key:
 * `txn:<transaction id>`, so the same transaction from both sources (or a file imported twice) is
 * one event and can give at most one credit.
 */
export interface CardTransactionEvent {
  kind: 'card_transaction';
  txnId: string;
  type: 'purchase' | 'refund';
  cardToken: string;
  merchantId: string;
  amountMinor: string;
  currency: string;
  /** When the card was used (the processor's time), ms since the epoch. */
  occurredAt: number;
  /** For a refund: the purchase it refunds. */
  originalId: string | null;
}

export type CardOfferCommand =
  | {
      op: 'card_offer.create';
      merchantId: string;
      title: string;
      hashtag: string;
      creditMinor: string;
      minSpendMinor: string;
      currency: string;
      startsAt: number | null;
      endsAt: number;
      maxEnrolments: number;
    }
  | { op: 'card_offer.end'; merchantId: string; cardOfferId: string };

/** What the engine holds for card-linked offers. */
export class CardLinkedState {
  readonly offers = new Map<string, CardOffer>();
  /** Live card-linked offers by lower-cased hashtag (unique with the offers' hashtags). */
  readonly byTag = new Map<string, CardOffer>();
  /** Enrolments not yet redeemed, by card token: what a purchase is matched against. */
  readonly enrolledByCard = new Map<string, CardEnrolment[]>();
  /** `cardOfferId|cardToken` of every enrolment ever, for "once per card". */
  readonly enrolledKeys = new Set<string>();
  /** Credits not reversed, by the purchase's transaction id, for refunds of that purchase. */
  readonly creditsByTxn = new Map<string, CardCredit>();
}

/** What one batch changed for card-linked offers. */
export class CardEffects {
  readonly offers = new Set<CardOffer>();
  readonly enrolments = new Set<CardEnrolment>();
  readonly credits = new Set<CardCredit>();
  readonly transactions: CardTransactionRow[] = [];
}
