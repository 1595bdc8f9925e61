import { newId } from '../../core/codes.ts';
import { accounts } from '../../core/ledger.ts';
import { feeOf, formatMoney } from '../../core/money.ts';
import { QUANTITY_PER_POST_MAX } from '../../core/limits.ts';
import { readBuyOptions } from '../../core/post-grammar.ts';
import { replies, type RefusalReason } from '../../core/replies.ts';
import { isOnSale, limitsOf, settle, spentKey, type Out } from '../decide.ts';
import type { PostEvent } from '../events.ts';
import {
  addHeld,
  addPending,
  handleKey,
  removePending,
  type Merchant,
  type Offer,
  type Order,
  type Shopper,
  type State,
} from '../state.ts';
import { giftCardSold } from './money.ts';
import { noteCharge, notePaid } from './safety.ts';

/**
 * The checkout core: what every way of buying does to an order, in one place. Buying by hashtag
 * (decide.ts) and buy-now links, the cart, `#checkout` and pay with tagpay (checkout.ts) all check
 * limits, reserve, charge, and settle an order through these functions, so a safety control added
 * here (the card's daily amount, the purchase history the unusual-amount check reads) holds on every
 * path. Pure, like the rest of the engine.
 */

/**
 * The variant and quantity a post asks for after `tag` (the offer's hashtag, or `#cart`), when the
 * offer is on sale; otherwise the post is answered why not, and null.
 */
export function postedOptions(
  out: Out,
  post: PostEvent,
  offer: Offer,
  tag: string,
): { variant: string | null; quantity: number } | null {
  if (!isOnSale(offer, out.entry.at)) {
    out.reply(post.network, post.postId, replies.refused(offer.title, 'not_on_sale', ''));
    return null;
  }
  const options = readBuyOptions(post.text, tag, offer.variants);
  if (options.ok) return options;
  const detail =
    options.reason === 'quantity_invalid'
      ? String(QUANTITY_PER_POST_MAX)
      : offer.variants.join(', ');
  out.reply(post.network, post.postId, replies.refused(offer.title, options.reason, detail));
  return null;
}

/** What one order is for. */
export interface OrderRequest {
  offer: Offer;
  network: string;
  /** The buyer's account on the network (see PostEvent.author). */
  handle: string;
  variant: string | null;
  quantity: number;
  postId: string;
  shopper: Shopper | undefined;
}

/**
 * The offers' per-buyer caps and the shopper's own limits (per purchase, per day) for a purchase of
 * `total` in `currency`; null when it may go on. `offer` names the capped offer that refused.
 */
export function limitRefusal(
  state: State,
  items: readonly { offer: Offer; quantity: number }[],
  key: string,
  shopper: Shopper | undefined,
  total: bigint,
  currency: string,
  at: number,
): { reason: RefusalReason; detail: string; offer?: Offer } | null {
  const perOffer = new Map<Offer, number>();
  for (const { offer, quantity } of items)
    perOffer.set(offer, (perOffer.get(offer) ?? 0) + quantity);
  for (const [offer, quantity] of perOffer) {
    if (offer.perBuyerMax === null) continue;
    const held = state.held.get(`${offer.id}|${key}`) ?? 0;
    if (held + quantity > offer.perBuyerMax)
      return { reason: 'buyer_cap', detail: String(offer.perBuyerMax), offer };
  }
  if (shopper === undefined) return null;
  const limits = limitsOf(shopper, currency);
  if (total > limits.perPurchase)
    return {
      reason: 'over_purchase_limit',
      detail: formatMoney({ minor: limits.perPurchase, currency }),
    };
  const spent = state.spent.get(spentKey(key, currency, at)) ?? 0n;
  if (spent + total > limits.perDay)
    return { reason: 'over_daily_limit', detail: formatMoney({ minor: limits.perDay, currency }) };
  return null;
}

/**
 * Creates an order and reserves its units: taken from the offer, held for the buyer, counted in the
 * buyer's spend of the day. A pending order (awaiting signup, confirmation or step-up) joins the
 * buyer's pending checkouts and expires at `expiresAt`; a charging one counts toward its card's
 * daily amount at once.
 */
export function reserveOrder(
  state: State,
  out: Out,
  req: OrderRequest,
  status: 'awaiting_signup' | 'awaiting_confirmation' | 'awaiting_step_up' | 'charging',
  expiresAt: number,
): Order {
  const at = out.entry.at;
  const offer = req.offer;
  const key = handleKey(req.network, req.handle);
  const merchant = state.merchants.get(offer.merchantId)!;
  const amount = offer.priceMinor * BigInt(req.quantity);
  const order: Order = {
    id: newId('ord', out.ctx.random),
    offerId: offer.id,
    merchantId: offer.merchantId,
    shopperId: req.shopper?.id ?? null,
    network: req.network,
    handle: req.handle,
    variant: req.variant,
    quantity: req.quantity,
    amountMinor: amount,
    feeMinor: feeOf(amount, merchant.feeBps ?? out.ctx.feeBps),
    currency: offer.currency,
    status,
    codeHash: null,
    expiresAt,
    createdAt: at,
    updatedAt: at,
    postId: req.postId,
    shippingAddress: status === 'charging' ? req.shopper!.shippingAddress : null,
    failure: null,
    chargeId: null,
    refundedMinor: 0n,
  };
  offer.available -= req.quantity;
  if (offer.available < 0) throw new Error(`engine: offer ${offer.id} oversold`);
  out.fx.offers.add(offer);
  addHeld(state, offer, key, req.quantity);
  const sk = spentKey(key, offer.currency, at);
  state.spent.set(sk, (state.spent.get(sk) ?? 0n) + amount);
  state.activeOrders.set(order.id, order);
  if (status === 'charging') noteCharge(state, order, 1);
  else {
    addPending(state, key, order);
    state.deadlines.push(order.expiresAt, order.id);
  }
  out.fx.orders.add(order);
  out.fx.newOrders.add(order);
  return order;
}

/**
 * A pending order goes to charging (its code, if any, is retired by the caller): it leaves the
 * pending checkouts, counts toward its card's daily amount, and ships to the shopper's address.
 */
export function startCharge(state: State, out: Out, order: Order, shopper: Shopper): void {
  removePending(state, handleKey(order.network, order.handle), order);
  noteCharge(state, order, 1);
  order.status = 'charging';
  order.shippingAddress = shopper.shippingAddress;
  order.updatedAt = out.entry.at;
  out.fx.orders.add(order);
}

/** A charging order was declined: its card's amount is given back and its units released. */
export function chargeFailed(state: State, out: Out, order: Order, reason: string): void {
  noteCharge(state, order, -1);
  settle(state, out, order, 'failed', reason);
}

/** A charging order was paid: its units are sold, and the purchase joins the shopper's history. */
export function orderPaid(state: State, out: Out, order: Order, chargeId: string | null): void {
  const offer = state.offers.get(order.offerId)!;
  state.activeOrders.delete(order.id);
  // A refund of this order later in the same batch finds it here (cleared after the batch).
  state.fetched.set(order.id, order);
  order.status = 'paid';
  order.chargeId = chargeId;
  order.updatedAt = out.entry.at;
  out.fx.orders.add(order);
  notePaid(state, order);
  offer.sold += order.quantity;
  out.fx.offers.add(offer);
}

/** The money of a sale: from the shopper's card to what the merchant is owed, less the platform fee. */
export function creditSale(
  state: State,
  out: Out,
  ref: string,
  shopperId: string,
  merchantId: string,
  amount: bigint,
  fee: bigint,
  currency: string,
): void {
  const postings = [];
  const net = amount - fee;
  if (net > 0n)
    postings.push({
      from: accounts.funding(shopperId),
      to: accounts.payable(merchantId),
      minor: net,
      currency,
    });
  if (fee > 0n)
    postings.push({ from: accounts.funding(shopperId), to: accounts.fees(), minor: fee, currency });
  const transfer = { id: newId('trf', out.ctx.random), ref, at: out.entry.at, postings };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
}

/**
 * The money of a paid order, whichever way it was bought (a hashtag, a buy-now link, the cart): a
 * gift card's order issues its cards (the price to the gift-card liability, see giftCardSold), any
 * other order credits the merchant as a sale. True when the order was a gift card's.
 */
export function creditOrderSale(
  state: State,
  out: Out,
  order: Order,
  merchant: Merchant,
  title: string,
): boolean {
  if (giftCardSold(state, out, order, merchant, title)) return true;
  creditSale(
    state,
    out,
    order.id,
    order.shopperId!,
    merchant.id,
    order.amountMinor,
    order.feeMinor,
    order.currency,
  );
  return false;
}
