/**
 * The state of buy-now, cart and pay-with-tagpay checkouts (DESIGN flows 4, 5 and 6), kept beside the
 * engine's State (`state.checkout`) and written with each batch (`fx.checkout`).
 */

import type { PayFrom } from './checkout-events.ts';

/** How a payment was asked for. */
export type PaymentKind = 'buy_now' | 'cart' | 'cart_post' | 'oauth';
export type PaymentStatus =
  | 'awaiting_confirmation'
  /** Waiting for the shopper's approval by the e-mailed link (issue 3's step-up). */
  | 'awaiting_step_up'
  | 'charging'
  | 'paid'
  /** A pay-with-tagpay payment with a refund at the processor. */
  | 'refunding'
  /** Refunded in full (a part refunded leaves it `paid`, with refundedMinor). */
  | 'refunded'
  | 'failed'
  | 'expired'
  | 'canceled';

/**
 * One card charge for one or more orders (a cart), or for an outside shop's pay request. Orders keep
 * their own rows (one per item, each refundable on its own); the payment ties them to the one charge.
 */
export interface Payment {
  id: string;
  kind: PaymentKind;
  network: string;
  /** The shopper's account (see PostEvent.author). */
  account: string;
  shopperId: string;
  /** The shop's merchant, for an OAuth payment (orders carry their own merchants). */
  merchantId: string | null;
  orderIds: string[];
  /** Cart items this payment checks out: back in the cart if it fails. */
  cartItemIds: string[];
  amountMinor: bigint;
  /** The platform fee of an OAuth payment (orders carry their own fees). */
  feeMinor: bigint;
  currency: string;
  status: PaymentStatus;
  /** A `#checkout` by post waits for its confirmation code (stored as its hash only). */
  codeHash: string | null;
  expiresAt: number;
  /** The post replies go under (`#checkout`), or null for a web payment. */
  postId: string | null;
  clientId: string | null;
  requestId: string | null;
  redirectUri: string | null;
  codeChallenge: string | null;
  /** When the OAuth code was exchanged: a code works once. */
  codeUsedAt: number | null;
  chargeId: string | null;
  failure: string | null;
  /** What the shopper chose to pay from (see PayFrom). */
  payFrom: PayFrom;
  /**
   * The wallet's part of the amount, held when the payment is charged and posted when the card
   * answers yes (0 when the card pays it all). A payment with orders splits it across its orders
   * (money.orderWallet, one hold each), so each order's refund knows its own part.
   */
  walletMinor: bigint;
  /** The open hold of an OAuth payment's wallet part while its card part is charged. */
  walletHoldId: string | null;
  /** What was refunded of a pay-with-tagpay payment (its card part first, then its wallet part). */
  refundedMinor: bigint;
  createdAt: number;
  updatedAt: number;
}

export type CartItemStatus = 'in_cart' | 'checked_out' | 'removed';

export interface CartItem {
  id: string;
  network: string;
  account: string;
  offerId: string;
  variant: string | null;
  quantity: number;
  /** The `#cart` post: an order bought from the cart answers under it. */
  postId: string;
  addedAt: number;
  /** The log position of the post that added it: the cart's order. */
  seq: bigint;
  status: CartItemStatus;
}

/** An outside shop registered by a merchant to take payments with tagpay (an OAuth 2.0 client). */
export interface ShopClient {
  id: string;
  merchantId: string;
  name: string;
  secretHash: string;
  /** Compared exactly, character for character (RFC 6749 §3.1.2.3, OAuth 2.1). */
  redirectUris: string[];
  /** Where payment webhooks go; the merchant's own endpoint when null. */
  webhookUrl: string | null;
  createdAt: number;
}

export type PayRequestStatus = 'open' | 'approved' | 'expired';

/** What a shop asks a shopper to pay, created by the shop's server before it redirects. */
export interface PayRequest {
  id: string;
  clientId: string;
  merchantId: string;
  amountMinor: bigint;
  currency: string;
  description: string;
  reference: string | null;
  status: PayRequestStatus;
  paymentId: string | null;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
}

export class CheckoutState {
  /** `network:postId` of each offer post → the offer, for `#cart` replies (oldest first). */
  readonly offerByPost = new Map<string, string>();
  /** Items in each shopper's cart, by handle key, oldest first. */
  readonly carts = new Map<string, CartItem[]>();
  /** Payments not settled yet, and OAuth payments whose code is not exchanged yet. */
  readonly payments = new Map<string, Payment>();
  /** `#checkout` payments waiting for their code, by code hash. */
  readonly paymentByCode = new Map<string, Payment>();
  readonly clients = new Map<string, ShopClient>();
  /** Cart items of payments being charged, by payment: back in the cart if the charge fails. */
  readonly checkedOut = new Map<string, CartItem[]>();
  /** Pay requests still open, oldest first. */
  readonly payRequests = new Map<string, PayRequest>();
  /** Settled payments a batch's refunds name, read from the database before it (see State.fetched). */
  readonly fetched = new Map<string, Payment>();
}

export class CheckoutEffects {
  readonly offerPosts: { network: string; postId: string; offerId: string }[] = [];
  readonly cartItems = new Set<CartItem>();
  readonly payments = new Set<Payment>();
  readonly clients = new Set<ShopClient>();
  readonly payRequests = new Set<PayRequest>();
}
