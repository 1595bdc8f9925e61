import type { Hold } from '../../core/ledger.ts';
import { DeadlineHeap, type Shopper } from '../state.ts';

/**
 * The engine's in-memory state for money to a handle, wallets and gift cards (DESIGN.md flows 3
 * and 7). Pure data, rebuilt from the tables at start by loadMoney (money-load.ts).
 */

export type PaymentStatus =
  | 'awaiting_confirmation'
  /** Waits for the payer's approval by an e-mailed link (the fraud controls' step-up). */
  | 'awaiting_step_up'
  | 'charging'
  | 'pending_claim'
  | 'completed'
  | 'returned'
  | 'expired'
  | 'failed'
  | 'canceled';

export const ACTIVE_PAYMENT_STATUSES: readonly PaymentStatus[] = [
  'awaiting_confirmation',
  'awaiting_step_up',
  'charging',
  'pending_claim',
];

/**
 * Money from a payer to a recipient. A `#pay` is started by the payer; a `#request` by the
 * recipient, and the payer confirms it with a code. Recipients who have not linked are kept by
 * network and handle until they claim.
 */
export interface Payment {
  id: string;
  kind: 'pay' | 'request';
  payerId: string;
  payerNetwork: string;
  payerHandle: string;
  recipientNetwork: string;
  recipientHandle: string;
  recipientId: string | null;
  amountMinor: bigint;
  currency: string;
  memo: string;
  status: PaymentStatus;
  codeHash: string | null;
  /** The code's end while awaiting confirmation; the claim period's end while pending a claim. */
  expiresAt: number;
  /** Paid from the payer's wallet, and charged to the card (the rest). */
  walletMinor: bigint;
  cardMinor: bigint;
  /** The open hold: the wallet part reserved while charging, or the claim. */
  holdId: string | null;
  chargeId: string | null;
  /** Where the command came from: replies go under this post (null for the API). */
  network: string;
  postId: string | null;
  failure: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface WalletOp {
  id: string;
  kind: 'top_up' | 'withdrawal';
  shopperId: string;
  amountMinor: bigint;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed';
  holdId: string | null;
  processorRef: string | null;
  failure: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface GiftCard {
  id: string;
  codeHash: string;
  orderId: string;
  offerId: string;
  buyerId: string;
  valueMinor: bigint;
  currency: string;
  redeemedBy: string | null;
  redeemedAt: number | null;
  createdAt: number;
}

export interface ShopperSettings {
  visibility: 'public' | 'private';
  defaultCurrency: string | null;
}

/** A hold and how it ended, for the batch's writer. */
export interface HoldResolution {
  holdId: string;
  kind: 'post' | 'void';
  credit: string;
  transferId: string;
  at: number;
}

export class MoneyState {
  /** Payments not ended (awaiting a code, charging, or pending a claim). */
  readonly payments = new Map<string, Payment>();
  readonly paymentByCode = new Map<string, Payment>();
  /** Pending claims by `network:handle` of the recipient. */
  readonly claims = new Map<string, Payment[]>();
  /** Holds not yet posted or voided. */
  readonly holds = new Map<string, Hold>();
  /** Deadlines of payments (code ends and claim ends); settled entries are skipped when popped. */
  readonly deadlines = new DeadlineHeap();
  /** `payerId|recipient` pairs that completed a payment: the next one needs no code below the threshold. */
  readonly pairs = new Set<string>();
  /** Money sent per `payerId|currency|utcDay` (every payment not expired, failed or canceled). */
  readonly sent = new Map<string, bigint>();
  /** Top-ups and withdrawals in flight. */
  readonly walletOps = new Map<string, WalletOp>();
  readonly settings = new Map<string, ShopperSettings>();
  /** Gift card value per gift-card offer id. */
  readonly giftValues = new Map<string, bigint>();
  /** Gift cards by code hash. */
  readonly giftCards = new Map<string, GiftCard>();
  /**
   * The wallet part of orders paid from the wallet first: held while the card is charged for the
   * rest, remembered after payment (holdId null) until the order is refunded.
   */
  readonly orderWallet = new Map<string, { holdId: string | null; minor: bigint }>();
  /** Shoppers by `network:handle` of each of their handles (wallets are keyed by shopper id). */
  readonly shopperByHandle = new Map<string, Shopper>();
  /** The keys of shopperByHandle each shopper holds: a re-link replaces them without a scan. */
  private readonly handleKeysOf = new Map<string, string[]>();

  /** Indexes a shopper under its handles now, dropping the ones it held before. */
  indexShopper(shopper: Shopper, handles: readonly { network: string; handle: string }[]): void {
    for (const key of this.handleKeysOf.get(shopper.id) ?? []) {
      if (this.shopperByHandle.get(key)?.id === shopper.id) this.shopperByHandle.delete(key);
    }
    const keys = handles.map((h) => `${h.network}:${h.handle}`);
    for (const key of keys) this.shopperByHandle.set(key, shopper);
    this.handleKeysOf.set(shopper.id, keys);
  }
}

/** What one batch changed in money, written with the batch (money-commit.ts). */
export class MoneyEffects {
  readonly payments = new Set<Payment>();
  readonly walletOps = new Set<WalletOp>();
  readonly holds: { hold: Hold; transferId: string }[] = [];
  readonly resolutions: HoldResolution[] = [];
  readonly settings = new Map<string, ShopperSettings & { at: number }>();
  readonly giftOffers: { offerId: string; valueMinor: bigint }[] = [];
  readonly giftCards = new Set<GiftCard>();
}
