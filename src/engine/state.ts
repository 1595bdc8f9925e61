import { Balances, type Transfer } from '../core/ledger.ts';
import { DAY_MS, RETIRED_CODES_MAX } from '../core/limits.ts';
import { GENESIS_HASH, type ChainHead } from '../core/ledger-chain.ts';
import type { ShippingAddress } from './events.ts';
import { SafetyEffects, SafetyState } from './flows/safety-state.ts';
import { MoneyEffects, MoneyState } from './flows/money-state.ts';
import { CardEffects, CardLinkedState } from './flows/card-offers-state.ts';
import { PayoutEffects, PayoutState } from './flows/payouts-state.ts';
import { CheckoutEffects, CheckoutState } from './flows/checkout-state.ts';

/**
 * The engine's in-memory state and the effects of one batch. Pure data: no I/O here. The state is
 * rebuilt from the database at start (src/engine/load.ts) and changed only by src/engine/decide.ts.
 */

export interface Merchant {
  id: string;
  /** The merchant's first network and handle. */
  network: string;
  handle: string;
  /** Its handles on other networks: an offer is published on each. */
  alsoOn: { network: string; handle: string }[];
  name: string;
  webhookUrl: string | null;
  webhookSecret: string;
  feeBps: number | null;
  createdAt: number;
  /** Set by the operator; offers of an unverified merchant say so. */
  verified: boolean;
  /** After a rotation, the previous webhook secret signs too until this time. */
  webhookSecretPrevious: string | null;
  webhookPreviousUntil: number | null;
}

export type OfferStatus = 'live' | 'paused' | 'ended';

export interface Offer {
  id: string;
  merchantId: string;
  title: string;
  priceMinor: bigint;
  currency: string;
  /** Units put on sale. */
  quantity: number;
  /** Units neither reserved nor sold. */
  available: number;
  sold: number;
  variants: string[];
  perBuyerMax: number | null;
  hashtag: string;
  windowMs: number;
  startsAt: number;
  endsAt: number | null;
  status: OfferStatus;
  /** When the offer was first posted from the merchant's handle. */
  publishedAt: number | null;
  createdAt: number;
  /**
   * Posts that named it to buy (the funnel's first step), counted as the engine decides them: every
   * post it read as a purchase of this offer, refused ones too (sold out, a limit, a cap, not linked).
   */
  hashtagPosts: number;
}

export interface Shopper {
  id: string;
  network: string;
  /** The account posts come from (see PostEvent.author); the engine keys shoppers by it. */
  account: string;
  /** The handle people see. */
  handle: string;
  /** The same person's handles on other networks (or other accounts), each proven like the first. */
  alsoOn: ShopperHandle[];
  email: string;
  shippingAddress: ShippingAddress;
  cardToken: string;
  cardBrand: string;
  cardLast4: string;
  purchaseLimitMinor: bigint | null;
  dailyLimitMinor: bigint | null;
  limitCurrency: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One more handle of a shopper: posts from (network, account) are that shopper's. */
export interface ShopperHandle {
  network: string;
  account: string;
  handle: string;
  addedAt: number;
}

/** Every (network, account) a shopper posts from, its first one first. */
export function shopperHandles(s: Shopper): { network: string; account: string; handle: string }[] {
  return [{ network: s.network, account: s.account, handle: s.handle }, ...s.alsoOn];
}

/**
 * An order from the first hashtag post to its end. Before confirmation it is a *checkout*: stock is
 * reserved and a confirmation code is out (or, for an unlinked handle, a sign-up link).
 */
export type OrderStatus =
  | 'awaiting_signup'
  | 'awaiting_confirmation'
  | 'awaiting_step_up'
  | 'charging'
  | 'paid'
  | 'failed'
  | 'expired'
  | 'canceled'
  | 'refunding'
  | 'refunded';

export const ACTIVE_STATUSES: readonly OrderStatus[] = [
  'awaiting_signup',
  'awaiting_confirmation',
  'awaiting_step_up',
  'charging',
];
export const PENDING_STATUSES: readonly OrderStatus[] = [
  'awaiting_signup',
  'awaiting_confirmation',
  'awaiting_step_up',
];

export interface Order {
  id: string;
  offerId: string;
  merchantId: string;
  shopperId: string | null;
  network: string;
  handle: string;
  variant: string | null;
  quantity: number;
  amountMinor: bigint;
  feeMinor: bigint;
  currency: string;
  status: OrderStatus;
  codeHash: string | null;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  /** The post that started it: replies go under it. */
  postId: string;
  shippingAddress: ShippingAddress | null;
  failure: string | null;
  chargeId: string | null;
  /** Refunded so far (partial refunds); the order is `refunded` when it reaches the amount. */
  refundedMinor: bigint;
  /** Units put back on sale by its refunds so far (absent: none). */
  restocked?: number;
}

export interface RetiredCode {
  handleKey: string;
  reason: 'used' | 'expired' | 'canceled';
  at: number;
}

export interface WaitEntry {
  id: string;
  offerId: string;
  network: string;
  handle: string;
  variant: string | null;
  quantity: number;
  postId: string;
  joinedAt: number;
  /** The log position of the post that joined: the waitlist's order. */
  seq: bigint;
  status: 'waiting' | 'served' | 'left';
}

export interface OutboxRow {
  key: string;
  kind:
    | 'post'
    | 'email'
    | 'charge'
    | 'refund'
    | 'webhook'
    | 'statement_credit'
    | 'payout'
    | 'card_credit';
  body: unknown;
}

export interface ApiResult {
  key: string;
  status: number;
  body: unknown;
}

/** `network:account`, the key of a person across tagpay (for the local network the account is the handle). */
export function handleKey(network: string, handle: string): string {
  return `${network}:${handle}`;
}

/** A binary min-heap of (deadline, order id); entries of settled orders are skipped when popped. */
export class DeadlineHeap {
  private readonly at: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.at.length;
  }

  push(deadline: number, id: string): void {
    this.at.push(deadline);
    this.ids.push(id);
    let i = this.at.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at[parent]! <= this.at[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peek(): number | null {
    return this.at.length === 0 ? null : this.at[0]!;
  }

  pop(): string | null {
    if (this.at.length === 0) return null;
    const id = this.ids[0]!;
    const lastAt = this.at.pop()!;
    const lastId = this.ids.pop()!;
    if (this.at.length > 0) {
      this.at[0] = lastAt;
      this.ids[0] = lastId;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.at.length && this.at[l]! < this.at[m]!) m = l;
        if (r < this.at.length && this.at[r]! < this.at[m]!) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return id;
  }

  private swap(a: number, b: number): void {
    [this.at[a], this.at[b]] = [this.at[b]!, this.at[a]!];
    [this.ids[a], this.ids[b]] = [this.ids[b]!, this.ids[a]!];
  }
}

export class State {
  readonly merchants = new Map<string, Merchant>();
  readonly merchantByHandle = new Map<string, Merchant>();
  readonly offers = new Map<string, Offer>();
  /** Offers not ended, by lower-cased hashtag: a hashtag is unique among them. */
  readonly offerByTag = new Map<string, Offer>();
  /** Shoppers by the handle key of each of their handles (several keys can name one shopper). */
  readonly shoppers = new Map<string, Shopper>();
  readonly shopperById = new Map<string, Shopper>();
  /** Orders not yet settled (awaiting sign-up or confirmation, or charging). */
  readonly activeOrders = new Map<string, Order>();
  readonly orderByCode = new Map<string, Order>();
  /** Codes that no longer work, oldest first, so a late or repeated code gets an answer. */
  readonly retiredCodes = new Map<string, RetiredCode>();
  /** Wrong codes per handle key in the current window, and until when its codes are paused. */
  readonly wrongCodes = new Map<string, { since: number; count: number; pausedUntil: number }>();
  /**
   * Settled orders a batch needs (a refund names one), read from the database before the batch is
   * decided and dropped after it is committed: TigerBeetle's prefetch, so deciding stays pure.
   */
  readonly fetched = new Map<string, Order>();
  /** Pending checkouts by handle key: one order as itself (the common case, and lean), more as a list. */
  readonly pendingByHandle = new Map<string, Order | Order[]>();
  readonly deadlines = new DeadlineHeap();
  readonly waitlists = new Map<string, WaitEntry[]>();
  /** `offerId|handleKey` of every waiting entry, so a repeat is found without scanning the queue. */
  readonly waiting = new Set<string>();
  /** Units held (reserved, charging or paid) per `offerId|handleKey`, for the per-buyer cap. */
  readonly held = new Map<string, number>();
  /** Spend per `handleKey|currency|utcDay` (reserved, charging or paid), for the daily limit. */
  readonly spent = new Map<string, bigint>();
  readonly balances = new Balances();
  /** Fraud controls: guards, velocity, card spend (src/engine/flows/safety.ts). */
  readonly safety = new SafetyState();
  /** Payments, claims, holds, wallets and gift cards (src/engine/flows/money.ts). */
  readonly money = new MoneyState();
  /** The ledger's hash chain head: every committed transfer is chained after it (core/ledger-chain.ts). */
  readonly chain: ChainHead = { n: 0n, hash: GENESIS_HASH };
  readonly cards = new CardLinkedState();
  readonly payouts = new PayoutState();
  /** Buy-now, cart and pay-with-tagpay (src/engine/flows/checkout.ts). */
  readonly checkout = new CheckoutState();
}

/**
 * Remembers a code taken out of service (a checkout's or a payment's), newest last, forgetting
 * those older than a day or past RETIRED_CODES_MAX.
 */
export function rememberRetired(state: State, codeHash: string, code: RetiredCode): void {
  state.retiredCodes.delete(codeHash);
  state.retiredCodes.set(codeHash, code);
  for (const [hash, old] of state.retiredCodes) {
    if (state.retiredCodes.size <= RETIRED_CODES_MAX && old.at > code.at - DAY_MS) break;
    state.retiredCodes.delete(hash);
  }
}

/** The pending checkouts of a handle key. */
export function pendingOf(state: State, key: string): Order[] {
  const found = state.pendingByHandle.get(key);
  return found === undefined ? [] : Array.isArray(found) ? [...found] : [found];
}

export function addPending(state: State, key: string, order: Order): void {
  const found = state.pendingByHandle.get(key);
  if (found === undefined) state.pendingByHandle.set(key, order);
  else if (Array.isArray(found)) found.push(order);
  else state.pendingByHandle.set(key, [found, order]);
}

export function removePending(state: State, key: string, order: Order): void {
  const found = state.pendingByHandle.get(key);
  if (found === order) state.pendingByHandle.delete(key);
  else if (Array.isArray(found)) {
    const left = found.filter((o) => o !== order);
    if (left.length === 0) state.pendingByHandle.delete(key);
    else state.pendingByHandle.set(key, left.length === 1 ? left[0]! : left);
  }
}

/** Counts units a handle holds of an offer, for offers with a per-buyer cap only (others need no count). */
export function addHeld(state: State, offer: Offer, key: string, delta: number): void {
  if (offer.perBuyerMax === null) return;
  const heldKey = `${offer.id}|${key}`;
  const held = (state.held.get(heldKey) ?? 0) + delta;
  if (held > 0) state.held.set(heldKey, held);
  else state.held.delete(heldKey);
}

/** What one batch changed: written in one database transaction with the log cursor. */
export class Effects {
  /** The batch's time (its latest event's): the batch's outbox rows are due from it. */
  at = 0;
  readonly merchants = new Set<Merchant>();
  readonly offers = new Set<Offer>();
  readonly shoppers = new Set<Shopper>();
  /** Handles added to shoppers (shopper_handles rows). */
  readonly shopperHandles: { shopperId: string; handle: ShopperHandle }[] = [];
  readonly orders = new Set<Order>();
  readonly waitlist = new Set<WaitEntry>();
  /**
   * Of `orders` and `waitlist`, those created in this batch (with fresh ids): inserted without
   * `ON CONFLICT`, whose speculative insertion cost Postgres 2.5-3 µs more per row (9-11 against
   * 6-9 µs, measured on the bench machine); the others are upserted.
   */
  readonly newOrders = new Set<Order>();
  readonly newWaitlist = new Set<WaitEntry>();
  readonly transfers: Transfer[] = [];
  readonly outbox: OutboxRow[] = [];
  readonly apiResults: ApiResult[] = [];
  readonly apiKeys: {
    hash: string;
    merchantId: string;
    at: number;
    scopes?: readonly string[];
    name?: string | null;
  }[] = [];
  /** Merchants whose other API keys are revoked, keeping one. */
  readonly revokeKeys: { merchantId: string; keep: string; at: number }[] = [];
  /** Guards, the audit log, wrong-code counters, single key revocations. */
  readonly safety = new SafetyEffects();
  readonly money = new MoneyEffects();
  readonly cards = new CardEffects();
  readonly payouts = new PayoutEffects();
  readonly checkout = new CheckoutEffects();
}
