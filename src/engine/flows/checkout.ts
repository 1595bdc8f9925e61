import { hashCode, newCode, newId } from '../../core/codes.ts';
import { accounts } from '../../core/ledger.ts';
import type { ErrorCode } from '../../core/errors.ts';
import {
  CART_ITEMS_MAX,
  CONFIRM_WINDOW_MS_DEFAULT,
  OAUTH_CODE_TTL_MS,
  OFFER_POSTS_MAX,
  PAY_REQUEST_TTL_MS,
  PAY_REQUESTS_OPEN_MAX,
  QUANTITY_PER_POST_MAX,
} from '../../core/limits.ts';
import { feeOf, formatMoney } from '../../core/money.ts';
import { readHashtags } from '../../core/post-grammar.ts';
import {
  checkoutEmails,
  checkoutReplies,
  emails,
  replies,
  type StepUpReason,
} from '../../core/replies.ts';
import {
  fail,
  formatAddress,
  isOnSale,
  ok,
  settle,
  spentKey,
  titleOf,
  type Out,
} from '../decide.ts';
import type { ChargeResultEvent, PostEvent, RefundResultEvent } from '../events.ts';
import {
  handleKey,
  type Merchant,
  type Offer,
  type Order,
  type Shopper,
  type State,
} from '../state.ts';
import { orderView } from '../views.ts';
import type { CheckoutCommand, OfferPostedEvent } from './checkout-events.ts';
import type { CartItem, Payment, PayRequest, ShopClient } from './checkout-state.ts';
import {
  chargeFailed,
  creditOrderSale,
  creditSale,
  limitRefusal,
  orderPaid,
  postedOptions,
  reserveOrder,
  startCharge,
} from './checkout-core.ts';
import {
  cardPartOfOrder,
  holdWallet,
  settleOrderWallet,
  settleWalletHold,
  walletBalance,
  WALLET_CHARGE_ID,
} from './money.ts';
import {
  checkSpend,
  noteCharge,
  noteCheckout,
  notePaid,
  notMeLink,
  sendStepUp,
  type StepUpSubject,
} from './safety.ts';

/**
 * Buy-now links, the cart (#cart, #checkout) and pay with tagpay (DESIGN flows 4, 5 and 6), decided
 * like every other input: pure functions of (state, log entry) that record their effects. A payment
 * is one card charge for all its orders; its stock is reserved for every item or for none.
 */

// ---------------------------------------------------------------------------------------------
// Views

export function paymentView(p: Payment) {
  return {
    id: p.id,
    object: 'payment',
    kind: p.kind,
    status: p.status,
    amount: Number(p.amountMinor),
    currency: p.currency,
    shopper_id: p.shopperId,
    order_ids: p.orderIds,
    merchant_id: p.merchantId,
    pay_request_id: p.requestId,
    failure_reason: p.failure,
    pay_from: p.payFrom,
    // The split of the amount once charging: what the wallet paid (or holds), the card the rest.
    wallet_amount: Number(p.walletMinor),
    card_amount: Number(p.amountMinor - p.walletMinor),
    amount_refunded: Number(p.refundedMinor),
    created_at: new Date(p.createdAt).toISOString(),
    updated_at: new Date(p.updatedAt).toISOString(),
  };
}

export function shopClientView(c: ShopClient) {
  return {
    id: c.id,
    object: 'shop_client',
    merchant_id: c.merchantId,
    name: c.name,
    redirect_uris: c.redirectUris,
    webhook_url: c.webhookUrl,
    created_at: new Date(c.createdAt).toISOString(),
  };
}

export function payRequestView(r: PayRequest) {
  return {
    id: r.id,
    object: 'pay_request',
    client_id: r.clientId,
    amount: Number(r.amountMinor),
    currency: r.currency,
    description: r.description,
    reference: r.reference,
    status: r.status,
    payment_id: r.paymentId,
    expires_at: new Date(r.expiresAt).toISOString(),
    created_at: new Date(r.createdAt).toISOString(),
  };
}

export function cartItemView(item: CartItem, offer: Offer | undefined) {
  return {
    id: item.id,
    object: 'cart_item',
    offer_id: item.offerId,
    title: offer?.title ?? null,
    variant: item.variant,
    quantity: item.quantity,
    unit_price:
      offer === undefined ? null : { amount: Number(offer.priceMinor), currency: offer.currency },
    available: offer === undefined ? 0 : offer.available,
    added_at: new Date(item.addedAt).toISOString(),
  };
}

/**
 * A cart checked out by post (`#checkout`) pays as a purchase by hashtag does: the wallet first, the
 * card for the rest (a post cannot say which; the web checkout lets the shopper choose).
 */
const BY_POST_PAYS_FROM = 'wallet';

// ---------------------------------------------------------------------------------------------
// Offer posts and the cart

export function onOfferPosted(state: State, out: Out, event: OfferPostedEvent): void {
  const posts = state.checkout.offerByPost;
  posts.set(`${event.network}:${event.postId}`, event.offerId);
  for (const [oldest] of posts) {
    if (posts.size <= OFFER_POSTS_MAX) break;
    posts.delete(oldest);
  }
  out.fx.checkout.offerPosts.push({
    network: event.network,
    postId: event.postId,
    offerId: event.offerId,
  });
}

function cartOf(state: State, key: string): CartItem[] {
  return state.checkout.carts.get(key) ?? [];
}

function cartLink(out: Out): string {
  return `${out.ctx.publicUrl}/cart`;
}

function signupLink(out: Out, network: string, handle: string): string {
  return `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(network)}&handle=${encodeURIComponent(handle)}`;
}

/**
 * `#cart` as a reply to an offer post (or beside the offer's hashtag, `#cart #BuyAcmeTee M`): the
 * offer goes into the handle's cart; the same offer and option again adds to its quantity.
 */
export function addToCart(state: State, out: Out, post: PostEvent, author: string): void {
  const at = out.entry.at;
  const fromReply =
    post.replyTo === null
      ? undefined
      : state.checkout.offerByPost.get(`${post.network}:${post.replyTo}`);
  let offer = fromReply === undefined ? undefined : state.offers.get(fromReply);
  if (offer === undefined) {
    for (const tag of readHashtags(post.text).tags) {
      offer = state.offerByTag.get(tag);
      if (offer !== undefined) break;
    }
  }
  if (offer === undefined)
    return out.reply(post.network, post.postId, checkoutReplies.cartNoOffer());
  // Options follow #cart on a reply, or the offer's hashtag when it is named.
  const named = readHashtags(post.text).tags.includes(offer.hashtag.toLowerCase());
  const options = postedOptions(out, post, offer, named ? offer.hashtag : 'cart');
  if (options === null) return;
  const key = handleKey(post.network, author);
  const cart = cartOf(state, key);
  const same = cart.find((i) => i.offerId === offer.id && i.variant === options.variant);
  if (same !== undefined) {
    same.quantity = Math.min(QUANTITY_PER_POST_MAX, same.quantity + options.quantity);
    out.fx.checkout.cartItems.add(same);
  } else {
    if (cart.length >= CART_ITEMS_MAX) {
      return out.reply(post.network, post.postId, checkoutReplies.cartFull(CART_ITEMS_MAX));
    }
    const item: CartItem = {
      id: newId('cit', out.ctx.random),
      network: post.network,
      account: author,
      offerId: offer.id,
      variant: options.variant,
      quantity: options.quantity,
      postId: post.postId,
      addedAt: at,
      seq: out.entry.seq,
      status: 'in_cart',
    };
    cart.push(item);
    state.checkout.carts.set(key, cart);
    out.fx.checkout.cartItems.add(item);
  }
  const variant = options.variant === null ? '' : ` (${options.variant})`;
  out.reply(
    post.network,
    post.postId,
    checkoutReplies.cartAdded(`${offer.title}${variant}`, cart.length, cartLink(out)),
  );
}

// ---------------------------------------------------------------------------------------------
// Reserving stock for a payment

interface Wanted {
  offer: Offer;
  variant: string | null;
  quantity: number;
  /** The post an order answers under ('' for a web purchase with no post). */
  postId: string;
}

type Reserved =
  | { ok: true; orders: Order[]; stepUp: StepUpReason[] }
  | { ok: false; code: ErrorCode; message: string };

/**
 * Checks every item, then reserves them all: an order per item, its units taken from the offer. One
 * item that cannot be had (not on sale, not enough left, a cap or a limit) refuses the whole payment
 * before anything changes: all or nothing.
 */
function reserve(
  state: State,
  out: Out,
  shopper: Shopper,
  wanted: Wanted[],
  status: 'charging' | 'awaiting_confirmation',
  expiresAt: number,
): Reserved {
  const at = out.entry.at;
  const key = handleKey(shopper.network, shopper.account);
  if (wanted.length === 0) return { ok: false, code: 'CART_EMPTY', message: 'Nothing to buy.' };
  const currency = wanted[0]!.offer.currency;
  const perOffer = new Map<Offer, number>();
  let total = 0n;
  for (const w of wanted) {
    if (!isOnSale(w.offer, at)) {
      return {
        ok: false,
        code: 'OFFER_NOT_ON_SALE',
        message: `${w.offer.title} is not on sale right now.`,
      };
    }
    if (w.offer.currency !== currency) {
      return {
        ok: false,
        code: 'CART_MIXED_CURRENCY',
        message: `One payment is in one currency; ${w.offer.title} is in ${w.offer.currency}, not ${currency}.`,
      };
    }
    if (
      w.offer.variants.length > 0 &&
      (w.variant === null || !w.offer.variants.includes(w.variant))
    )
      return {
        ok: false,
        code: 'INVALID_REQUEST',
        message: `Choose one of ${w.offer.variants.join(', ')} for ${w.offer.title}.`,
      };
    if (w.offer.variants.length === 0 && w.variant !== null)
      return { ok: false, code: 'INVALID_REQUEST', message: `${w.offer.title} has no options.` };
    if (w.quantity < 1 || w.quantity > QUANTITY_PER_POST_MAX)
      return {
        ok: false,
        code: 'INVALID_REQUEST',
        message: `Buy between 1 and ${QUANTITY_PER_POST_MAX} of ${w.offer.title}.`,
      };
    perOffer.set(w.offer, (perOffer.get(w.offer) ?? 0) + w.quantity);
    total += w.offer.priceMinor * BigInt(w.quantity);
  }
  for (const [offer, quantity] of perOffer) {
    if (offer.available < quantity) {
      return {
        ok: false,
        code: 'OUT_OF_STOCK',
        message:
          offer.available === 0
            ? `${offer.title} is sold out.`
            : `Only ${offer.available} of ${offer.title} ${offer.available === 1 ? 'is' : 'are'} left.`,
      };
    }
  }
  // The same caps and limits as a purchase by hashtag (checkout-core.ts).
  const refused = limitRefusal(state, wanted, key, shopper, total, currency, at);
  if (refused !== null) {
    const limit = { minor: total, currency };
    return {
      ok: false,
      code: 'PURCHASE_LIMIT_EXCEEDED',
      message:
        refused.reason === 'buyer_cap'
          ? `${refused.offer!.title} is limited to ${refused.detail} per buyer.`
          : refused.reason === 'over_purchase_limit'
            ? `${formatMoney(limit)} is above your per-purchase limit of ${refused.detail}.`
            : `This would pass your daily spending limit of ${refused.detail}.`,
    };
  }
  // The fraud controls' one spending check (frozen, cool-down, velocity per handle and card), and
  // the step-up it may ask for, as for a purchase by hashtag.
  const check = checkSpend(state, out.ctx.safety, {
    key,
    shopper,
    amountMinor: total,
    currency,
    at,
  });
  if (!check.ok) {
    return {
      ok: false,
      code: 'PURCHASE_REFUSED',
      message: replies.refused('This purchase', check.reason, check.detail),
    };
  }
  const held = check.stepUp.length > 0 ? 'awaiting_step_up' : status;

  // Every check passed: reserve each item.
  const orders: Order[] = [];
  for (const w of wanted) {
    const order = reserveOrder(
      state,
      out,
      { ...w, network: shopper.network, handle: shopper.account, shopper },
      held,
      // A web purchase asked for a step-up waits for it as long as a code would be waited for.
      held === 'charging' ? at : status === 'charging' ? at + CONFIRM_WINDOW_MS_DEFAULT : expiresAt,
    );
    noteCheckout(state, key, shopper, at);
    orders.push(order);
  }
  return { ok: true, orders, stepUp: check.stepUp };
}

function newPayment(
  out: Out,
  shopper: Shopper,
  kind: Payment['kind'],
  orders: Order[],
  fields: Partial<Payment> = {},
): Payment {
  const at = out.entry.at;
  return {
    id: newId('pay', out.ctx.random),
    kind,
    network: shopper.network,
    account: shopper.account,
    shopperId: shopper.id,
    merchantId: null,
    orderIds: orders.map((o) => o.id),
    cartItemIds: [],
    amountMinor: orders.reduce((sum, o) => sum + o.amountMinor, 0n),
    feeMinor: 0n,
    currency: orders[0]?.currency ?? 'USD',
    status: 'charging',
    codeHash: null,
    expiresAt: at + CONFIRM_WINDOW_MS_DEFAULT,
    postId: null,
    clientId: null,
    requestId: null,
    redirectUri: null,
    codeChallenge: null,
    codeUsedAt: null,
    chargeId: null,
    failure: null,
    payFrom: 'card',
    walletMinor: 0n,
    walletHoldId: null,
    refundedMinor: 0n,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

/**
 * One charge for the whole payment, keyed by the payment: its result comes back as `charge:<pay id>`.
 * Paid from the wallet, the wallet's part is held first (as a purchase by hashtag is, decide.ts's
 * beginCharge) and the card is charged only for the rest; nothing left for the card, the payment is
 * paid at once with no charge (WALLET_CHARGE_ID stands for it).
 */
function charge(
  state: State,
  out: Out,
  payment: Payment,
  shopper: Shopper,
  description: string,
): void {
  const cardMinor =
    payment.payFrom === 'wallet' ? holdWalletPart(state, out, payment) : payment.amountMinor;
  if (cardMinor === 0n) {
    const paid = { orderId: payment.id, ok: true, reason: null, chargeId: WALLET_CHARGE_ID };
    return onPaymentResult(state, out, { kind: 'charge_result', ...paid });
  }
  out.fx.outbox.push({
    key: `charge:${payment.id}`,
    kind: 'charge',
    body: {
      order_id: payment.id,
      card_token: shopper.cardToken,
      amount: cardMinor.toString(),
      currency: payment.currency,
      description: `${description} (${payment.id})`.slice(0, 200),
    },
  });
}

/**
 * Holds what the wallet has towards a payment being charged; answers the card's part. A payment
 * with orders holds per order (cardPartOfOrder, the first orders first), so that each order's refund
 * gives its own wallet part back; a pay-with-tagpay payment holds once, for itself.
 */
function holdWalletPart(state: State, out: Out, payment: Payment): bigint {
  let cardMinor = 0n;
  if (payment.orderIds.length > 0) {
    for (const id of payment.orderIds)
      cardMinor += cardPartOfOrder(state, out, state.activeOrders.get(id)!);
  } else {
    const money = { minor: payment.amountMinor, currency: payment.currency };
    const held = holdWallet(state, out, payment.id, payment.shopperId, money);
    payment.walletHoldId = held?.holdId ?? null;
    cardMinor = payment.amountMinor - (held?.minor ?? 0n);
  }
  payment.walletMinor = payment.amountMinor - cardMinor;
  out.fx.checkout.payments.add(payment);
  return cardMinor;
}

/** The card answered a payment: the wallet parts held towards it are posted, or given back. */
function settleWalletParts(state: State, out: Out, payment: Payment, paid: boolean): void {
  if (payment.walletMinor === 0n) return;
  if (payment.walletHoldId !== null) {
    settleWalletHold(state, out, payment.walletHoldId, payment.shopperId, paid);
    payment.walletHoldId = null;
  }
  for (const id of payment.orderIds) {
    const order = state.activeOrders.get(id);
    if (order !== undefined && order.status === 'charging')
      settleOrderWallet(state, out, order, paid);
  }
  // Declined: nothing was taken from the wallet after all.
  if (!paid) payment.walletMinor = 0n;
}

function track(state: State, out: Out, payment: Payment): void {
  state.checkout.payments.set(payment.id, payment);
  out.fx.checkout.payments.add(payment);
}

// ---------------------------------------------------------------------------------------------
// Checkout by post: #checkout, then the confirmation code

export function checkoutByPost(state: State, out: Out, post: PostEvent, author: string): void {
  const key = handleKey(post.network, author);
  const shopper = state.shoppers.get(key);
  if (shopper === undefined) {
    return out.reply(
      post.network,
      post.postId,
      checkoutReplies.checkoutSignup(signupLink(out, post.network, author)),
    );
  }
  const cart = cartOf(state, key);
  if (cart.length === 0) return out.reply(post.network, post.postId, checkoutReplies.cartEmpty());
  // One cart checkout waits for its code at a time: a second #checkout would reserve it all twice.
  for (const waiting of state.checkout.paymentByCode.values()) {
    if (waiting.network === post.network && waiting.account === author)
      return out.reply(post.network, post.postId, checkoutReplies.checkoutWaiting());
  }
  // Nor while one waits for its step-up (its items stay in the cart until it is approved).
  for (const held of state.checkout.payments.values()) {
    if (
      held.status === 'awaiting_step_up' &&
      held.kind === 'cart_post' &&
      held.network === post.network &&
      held.account === author
    )
      return out.reply(post.network, post.postId, checkoutReplies.checkoutWaiting());
  }
  const expiresAt = out.entry.at + CONFIRM_WINDOW_MS_DEFAULT;
  const wanted = wantedOf(state, cart, post.postId);
  const reserved =
    wanted === null
      ? ({ ok: false, code: 'OFFER_NOT_ON_SALE', message: 'an item is no longer sold.' } as const)
      : reserve(state, out, shopper, wanted, 'awaiting_confirmation', expiresAt);
  if (!reserved.ok) {
    return out.reply(post.network, post.postId, checkoutReplies.checkoutRefused(reserved.message));
  }
  if (reserved.stepUp.length > 0) {
    // The e-mailed approval stands in for the code: the cart is charged once it is approved.
    const payment = newPayment(out, shopper, 'cart_post', reserved.orders, {
      postId: post.postId,
      cartItemIds: cart.map((i) => i.id),
      payFrom: BY_POST_PAYS_FROM,
    });
    for (const order of reserved.orders) order.postId = post.postId;
    track(state, out, payment);
    return askPaymentStepUp(state, out, payment, shopper, reserved.stepUp);
  }
  const code = newCode(out.ctx.random);
  const payment = newPayment(out, shopper, 'cart_post', reserved.orders, {
    status: 'awaiting_confirmation',
    codeHash: hashCode(code),
    expiresAt,
    postId: post.postId,
    cartItemIds: cart.map((i) => i.id),
    payFrom: BY_POST_PAYS_FROM,
  });
  for (const order of reserved.orders) order.postId = post.postId;
  track(state, out, payment);
  state.checkout.paymentByCode.set(payment.codeHash!, payment);
  const total = { minor: payment.amountMinor, currency: payment.currency };
  const minutes = Math.round(CONFIRM_WINDOW_MS_DEFAULT / 60_000);
  const count = reserved.orders.length;
  out.reply(
    post.network,
    post.postId,
    checkoutReplies.checkoutConfirm(count, total, code, minutes),
  );
  out.email(
    shopper.email,
    emails.confirm(`your cart (${count} items)`, total, code, minutes, notMeLink(out, shopper.id)),
  );
}

function wantedOf(state: State, items: CartItem[], postId: string | null): Wanted[] | null {
  const wanted: Wanted[] = [];
  for (const item of items) {
    const offer = state.offers.get(item.offerId);
    if (offer === undefined) return null;
    wanted.push({
      offer,
      variant: item.variant,
      quantity: item.quantity,
      postId: postId ?? item.postId,
    });
  }
  return wanted;
}

function dropCode(state: State, payment: Payment): void {
  if (payment.codeHash !== null) state.checkout.paymentByCode.delete(payment.codeHash);
}

/** The code of a `#checkout`: every order of the cart goes to charging, with one charge. */
export function confirmPayment(state: State, out: Out, post: PostEvent, payment: Payment): void {
  if (payment.status !== 'awaiting_confirmation') return;
  const orders = payment.orderIds.map((id) => state.activeOrders.get(id));
  const alive = orders.every((o) => o !== undefined && o.status === 'awaiting_confirmation');
  if (out.entry.at > payment.expiresAt || !alive) {
    endPayment(state, out, payment, alive ? 'expired' : 'canceled');
    return out.reply(post.network, post.postId, checkoutReplies.checkoutExpired());
  }
  const key = handleKey(payment.network, payment.account);
  const shopper = state.shoppers.get(key)!;
  dropCode(state, payment);
  for (const order of orders as Order[]) startCharge(state, out, order, shopper);
  payment.status = 'charging';
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  // The items leave the cart now; they come back if the charge fails.
  moveCartItems(state, out, payment, 'checked_out');
  charge(state, out, payment, shopper, `tagpay cart, ${orders.length} items`);
}

/** Ends a payment that was never charged: its orders that are still pending are released. */
function endPayment(
  state: State,
  out: Out,
  payment: Payment,
  status: 'expired' | 'canceled',
): void {
  dropCode(state, payment);
  for (const id of payment.orderIds) {
    const order = state.activeOrders.get(id);
    if (
      order !== undefined &&
      (order.status === 'awaiting_confirmation' || order.status === 'awaiting_step_up')
    )
      settle(state, out, order, status, null);
  }
  payment.status = status;
  payment.updatedAt = out.entry.at;
  state.checkout.payments.delete(payment.id);
  out.fx.checkout.payments.add(payment);
}

/**
 * On a tick: `#checkout` payments past their window end (their orders expire by their own deadlines),
 * and pay requests and OAuth codes past their lifetime are forgotten.
 */
export function expirePayments(state: State, out: Out): void {
  const at = out.entry.at;
  // Both maps are in creation order with one lifetime each, so expiry order too: stop at the first
  // one still alive. (Deleting the entry being visited is safe while iterating a Map.)
  for (const payment of state.checkout.paymentByCode.values()) {
    if (payment.expiresAt >= at) break;
    endPayment(state, out, payment, 'expired');
  }
  for (const payment of state.checkout.payments.values()) {
    // A step-up not approved in time: nothing was charged, its units go back.
    if (payment.status === 'awaiting_step_up' && payment.expiresAt <= at) {
      if (payment.kind === 'oauth') {
        giveBackSpend(state, payment);
        payment.status = 'expired';
        payment.updatedAt = at;
        out.fx.checkout.payments.add(payment);
        onOAuthSettled(state, out, payment);
      } else {
        endPayment(state, out, payment, 'expired');
        if (payment.kind === 'cart') moveCartItems(state, out, payment, 'in_cart');
        state.checkout.checkedOut.delete(payment.id);
      }
      continue;
    }
    // An OAuth payment stays in memory only while its code can still be exchanged.
    if (
      payment.kind === 'oauth' &&
      payment.status !== 'charging' &&
      payment.createdAt + OAUTH_CODE_TTL_MS < at
    )
      state.checkout.payments.delete(payment.id);
  }
  for (const request of state.checkout.payRequests.values()) {
    if (request.expiresAt >= at) break;
    request.status = 'expired';
    request.updatedAt = at;
    state.checkout.payRequests.delete(request.id);
    out.fx.checkout.payRequests.add(request);
  }
}

function moveCartItems(
  state: State,
  out: Out,
  payment: Payment,
  status: 'checked_out' | 'in_cart',
): void {
  if (payment.cartItemIds.length === 0) return;
  const key = handleKey(payment.network, payment.account);
  const ids = new Set(payment.cartItemIds);
  if (status === 'checked_out') {
    const cart = cartOf(state, key);
    const left = cart.filter((i) => !ids.has(i.id));
    for (const item of cart) {
      if (!ids.has(item.id)) continue;
      item.status = 'checked_out';
      out.fx.checkout.cartItems.add(item);
    }
    if (left.length === 0) state.checkout.carts.delete(key);
    else state.checkout.carts.set(key, left);
    // Kept aside on the payment until its charge answers.
    state.checkout.checkedOut.set(
      payment.id,
      cart.filter((i) => ids.has(i.id)),
    );
    return;
  }
  const items = state.checkout.checkedOut.get(payment.id) ?? [];
  const cart = cartOf(state, key);
  for (const item of items) {
    if (cart.length >= CART_ITEMS_MAX) break;
    item.status = 'in_cart';
    cart.push(item);
    out.fx.checkout.cartItems.add(item);
  }
  cart.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  if (cart.length > 0) state.checkout.carts.set(key, cart);
}

// ---------------------------------------------------------------------------------------------
// The charge's answer

/**
 * Marks one order of a payment paid: the merchant is credited as for a sale by post, or a gift
 * card's order issues its cards (creditOrderSale, shared with buying by hashtag).
 */
function payOrder(state: State, out: Out, order: Order, chargeId: string | null): void {
  const merchant = state.merchants.get(order.merchantId)!;
  orderPaid(state, out, order, chargeId);
  const offer = state.offers.get(order.offerId)!;
  creditOrderSale(state, out, order, merchant, titleOf(offer, order));
  out.webhook(merchant, 'order.paid', orderView(order));
}

/** What a pay-with-tagpay payment counts in the spending records, as an order would. */
function chargeRecord(payment: Payment) {
  return {
    network: payment.network,
    handle: payment.account,
    shopperId: payment.shopperId,
    currency: payment.currency,
    createdAt: payment.createdAt,
    amountMinor: payment.amountMinor,
  };
}

/** The spend a pay-with-tagpay payment counted at approval, given back: nothing was charged. */
function giveBackSpend(state: State, payment: Payment): void {
  const sk = spentKey(
    handleKey(payment.network, payment.account),
    payment.currency,
    payment.createdAt,
  );
  const spent = (state.spent.get(sk) ?? 0n) - payment.amountMinor;
  if (spent > 0n) state.spent.set(sk, spent);
  else state.spent.delete(sk);
}

// ---------------------------------------------------------------------------------------------
// Step-up

/**
 * Holds a payment for the shopper's approval by the e-mailed link (above the threshold they set, or
 * on an anomaly), as a purchase by hashtag is held: nothing is charged until the link is used, and
 * the units wait as long as a code would. The link names the payment: it approves all its orders.
 */
function askPaymentStepUp(
  state: State,
  out: Out,
  payment: Payment,
  shopper: Shopper,
  reasons: StepUpReason[],
): void {
  const at = out.entry.at;
  payment.status = 'awaiting_step_up';
  payment.expiresAt = at + CONFIRM_WINDOW_MS_DEFAULT;
  payment.updatedAt = at;
  out.fx.checkout.payments.add(payment);
  // Its orders expire on their own deadline; this one wakes the clock for the payment itself.
  state.deadlines.push(payment.expiresAt, payment.id);
  const total = { minor: payment.amountMinor, currency: payment.currency };
  const minutes = Math.round(CONFIRM_WINDOW_MS_DEFAULT / 60_000);
  const title =
    payment.orderIds.length === 1
      ? titleOf(
          state.offers.get(state.activeOrders.get(payment.orderIds[0]!)!.offerId)!,
          state.activeOrders.get(payment.orderIds[0]!)!,
        )
      : payment.orderIds.length > 1
        ? `your cart (${payment.orderIds.length} items)`
        : 'your payment';
  if (payment.postId !== null)
    out.reply(payment.network, payment.postId, replies.stepUp(title, total, minutes));
  sendStepUp(out, payment.id, shopper, reasons, total, (approve, notMe) =>
    emails.stepUp(title, total, minutes, reasons, approve, notMe),
  );
}

/** A web payment held for a step-up (askPaymentStepUp): approving charges all its orders at once. */
export function webPaymentStepUpSubject(state: State, out: Out, id: string): StepUpSubject | null {
  const payment = state.checkout.payments.get(id);
  if (payment === undefined || payment.status !== 'awaiting_step_up') return null;
  return {
    what: 'purchase',
    shopper: state.shopperById.get(payment.shopperId),
    expiresAt: payment.expiresAt,
    approve: () => approvePaymentStepUp(state, out, id),
  };
}

/** The shopper approved a held payment: it is charged, all its orders at once. Null, or why not. */
function approvePaymentStepUp(state: State, out: Out, paymentId: string): string | null {
  const payment = state.checkout.payments.get(paymentId)!;
  const shopper = state.shopperById.get(payment.shopperId)!;
  const orders = payment.orderIds.map((id) => state.activeOrders.get(id));
  if (!orders.every((o) => o !== undefined && o.status === 'awaiting_step_up'))
    return 'This purchase was canceled before it was approved.';
  for (const order of orders as Order[]) startCharge(state, out, order, shopper);
  if (payment.kind === 'oauth') noteCharge(state, chargeRecord(payment), 1);
  // A `#checkout` took its items out of the cart at confirmation; approval stands for it here.
  if (payment.kind === 'cart_post') moveCartItems(state, out, payment, 'checked_out');
  payment.status = 'charging';
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  const merchant = payment.merchantId === null ? null : state.merchants.get(payment.merchantId);
  charge(
    state,
    out,
    payment,
    shopper,
    merchant ? `${merchant.name}: pay with tagpay` : `tagpay, ${orders.length} items`,
  );
  return null;
}

export function onPaymentResult(state: State, out: Out, result: ChargeResultEvent): void {
  const payment = state.checkout.payments.get(result.orderId);
  if (payment === undefined || payment.status !== 'charging') return;
  const key = handleKey(payment.network, payment.account);
  const shopper = state.shoppers.get(key);
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  const total = { minor: payment.amountMinor, currency: payment.currency };
  settleWalletParts(state, out, payment, result.ok);
  if (!result.ok) {
    const reason = result.reason ?? 'card_declined';
    payment.status = 'failed';
    payment.failure = reason;
    for (const id of payment.orderIds) {
      const order = state.activeOrders.get(id);
      if (order !== undefined) chargeFailed(state, out, order, reason);
    }
    moveCartItems(state, out, payment, 'in_cart');
    state.checkout.checkedOut.delete(payment.id);
    if (payment.postId !== null) {
      out.reply(
        payment.network,
        payment.postId,
        checkoutReplies.checkoutDeclined(reason.replace(/_/g, ' ')),
      );
    }
    if (payment.kind === 'oauth') {
      // The spend counted at approval is given back: nothing was charged.
      giveBackSpend(state, payment);
      noteCharge(state, chargeRecord(payment), -1);
      onOAuthSettled(state, out, payment);
    } else state.checkout.payments.delete(payment.id);
    return;
  }
  payment.status = 'paid';
  payment.chargeId = result.chargeId;
  state.checkout.checkedOut.delete(payment.id);
  if (payment.kind === 'oauth') {
    notePaid(state, chargeRecord(payment));
    creditSale(
      state,
      out,
      payment.id,
      payment.shopperId,
      payment.merchantId!,
      payment.amountMinor,
      payment.feeMinor,
      payment.currency,
    );
    onOAuthSettled(state, out, payment);
    if (shopper !== undefined) {
      const request = payment.requestId ?? '';
      out.email(shopper.email, checkoutEmails.receipt([request], total, payment.id, null));
    }
    return;
  }
  state.checkout.payments.delete(payment.id);
  const lines: string[] = [];
  for (const id of payment.orderIds) {
    const order = state.activeOrders.get(id);
    if (order === undefined) continue;
    payOrder(state, out, order, result.chargeId);
    const offer = state.offers.get(order.offerId)!;
    lines.push(
      `${titleOf(offer, order)}: ${formatMoney({ minor: order.amountMinor, currency: order.currency })} (order ${order.id})`,
    );
  }
  if (payment.postId !== null) {
    out.reply(
      payment.network,
      payment.postId,
      checkoutReplies.checkoutPaid(payment.orderIds.length, total, payment.orderIds),
    );
  }
  if (shopper !== undefined) {
    out.email(
      shopper.email,
      checkoutEmails.receipt(lines, total, payment.id, formatAddress(shopper.shippingAddress)),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// API commands

export function onCheckoutApi(state: State, out: Out, cmd: CheckoutCommand): void {
  switch (cmd.op) {
    case 'checkout.buy_now':
      return buyNow(state, out, cmd);
    case 'cart.checkout':
      return cartCheckout(state, out, cmd);
    case 'cart.remove':
      return cartRemove(state, out, cmd);
    case 'shop_client.create':
      return createClient(state, out, cmd);
    case 'pay_request.create':
      return createPayRequest(state, out, cmd);
    case 'pay_request.approve':
      return approvePayRequest(state, out, cmd);
    case 'oauth.exchange':
      return exchangeCode(state, out, cmd);
    case 'payment.refund':
      return refundPayment(state, out, cmd);
  }
}

function shopperFor(state: State, out: Out, network: string, account: string): Shopper | null {
  const shopper = state.shoppers.get(handleKey(network, account));
  if (shopper === undefined) {
    fail(
      out,
      'SHOPPER_NOT_LINKED',
      'Link a card and an address to your handle first (the sign-up page).',
    );
    return null;
  }
  return shopper;
}

function buyNow(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'checkout.buy_now' }>,
): void {
  if (out.entry.at > cmd.linkExpiresAt)
    return fail(out, 'LINK_EXPIRED', 'This buy-now link has expired.');
  const offer = state.offers.get(cmd.item.offerId);
  if (offer === undefined) return fail(out, 'OFFER_NOT_ON_SALE', 'This offer has ended.');
  const shopper = shopperFor(state, out, cmd.network, cmd.account);
  if (shopper === null) return;
  const reserved = reserve(
    state,
    out,
    shopper,
    [{ offer, variant: cmd.item.variant, quantity: cmd.item.quantity, postId: '' }],
    'charging',
    out.entry.at,
  );
  if (!reserved.ok) return fail(out, reserved.code, reserved.message);
  const payment = newPayment(out, shopper, 'buy_now', reserved.orders, {
    payFrom: cmd.payFrom ?? 'card',
  });
  track(state, out, payment);
  if (reserved.stepUp.length > 0) askPaymentStepUp(state, out, payment, shopper, reserved.stepUp);
  else charge(state, out, payment, shopper, offer.title);
  ok(out, 201, paymentView(payment));
}

function cartCheckout(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'cart.checkout' }>,
): void {
  const shopper = shopperFor(state, out, cmd.network, cmd.account);
  if (shopper === null) return;
  const cart = cartOf(state, handleKey(cmd.network, cmd.account));
  const chosen = cmd.itemIds === null ? cart : cart.filter((i) => cmd.itemIds!.includes(i.id));
  if (cmd.itemIds !== null && chosen.length !== new Set(cmd.itemIds).size)
    return fail(out, 'NOT_FOUND', 'An item is not in your cart.', 'item_ids');
  if (chosen.length === 0) return fail(out, 'CART_EMPTY', 'Your cart is empty.');
  const wanted = wantedOf(state, chosen, null);
  if (wanted === null) return fail(out, 'OFFER_NOT_ON_SALE', 'An item in your cart has ended.');
  const reserved = reserve(state, out, shopper, wanted, 'charging', out.entry.at);
  if (!reserved.ok) return fail(out, reserved.code, reserved.message);
  const payment = newPayment(out, shopper, 'cart', reserved.orders, {
    cartItemIds: chosen.map((i) => i.id),
    payFrom: cmd.payFrom ?? 'card',
  });
  track(state, out, payment);
  moveCartItems(state, out, payment, 'checked_out');
  if (reserved.stepUp.length > 0) askPaymentStepUp(state, out, payment, shopper, reserved.stepUp);
  else charge(state, out, payment, shopper, `tagpay cart, ${chosen.length} items`);
  ok(out, 201, paymentView(payment));
}

function cartRemove(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'cart.remove' }>,
): void {
  const key = handleKey(cmd.network, cmd.account);
  const cart = cartOf(state, key);
  const item = cart.find((i) => i.id === cmd.itemId);
  if (item === undefined) return fail(out, 'NOT_FOUND', 'This item is not in your cart.', 'id');
  item.status = 'removed';
  out.fx.checkout.cartItems.add(item);
  const left = cart.filter((i) => i !== item);
  if (left.length === 0) state.checkout.carts.delete(key);
  else state.checkout.carts.set(key, left);
  ok(out, 200, {
    object: 'cart',
    items: left.map((i) => cartItemView(i, state.offers.get(i.offerId))),
  });
}

// ---------------------------------------------------------------------------------------------
// Pay with tagpay: shop clients, pay requests, approval, code exchange

function createClient(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'shop_client.create' }>,
): void {
  const merchant = state.merchants.get(cmd.merchantId);
  if (merchant === undefined)
    return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
  const client: ShopClient = {
    id: newId('cli', out.ctx.random),
    merchantId: merchant.id,
    name: cmd.name,
    secretHash: cmd.secretHash,
    redirectUris: cmd.redirectUris,
    webhookUrl: cmd.webhookUrl,
    createdAt: out.entry.at,
  };
  state.checkout.clients.set(client.id, client);
  out.fx.checkout.clients.add(client);
  ok(out, 201, shopClientView(client));
}

function createPayRequest(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'pay_request.create' }>,
): void {
  const client = state.checkout.clients.get(cmd.clientId);
  if (client === undefined) return fail(out, 'OAUTH_INVALID_CLIENT', 'Unknown client.');
  if (state.checkout.payRequests.size >= PAY_REQUESTS_OPEN_MAX)
    return fail(out, 'ENGINE_BUSY', 'Too many open pay requests; retry later.');
  const at = out.entry.at;
  const request: PayRequest = {
    id: newId('prq', out.ctx.random),
    clientId: client.id,
    merchantId: client.merchantId,
    amountMinor: BigInt(cmd.amountMinor),
    currency: cmd.currency,
    description: cmd.description,
    reference: cmd.reference,
    status: 'open',
    paymentId: null,
    expiresAt: at + PAY_REQUEST_TTL_MS,
    createdAt: at,
    updatedAt: at,
  };
  state.checkout.payRequests.set(request.id, request);
  out.fx.checkout.payRequests.add(request);
  ok(out, 201, payRequestView(request));
}

function approvePayRequest(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'pay_request.approve' }>,
): void {
  const at = out.entry.at;
  const client = state.checkout.clients.get(cmd.clientId);
  if (client === undefined || !client.redirectUris.includes(cmd.redirectUri))
    return fail(out, 'OAUTH_INVALID_REQUEST', 'Unknown client or redirect URI.');
  const request = state.checkout.payRequests.get(cmd.requestId);
  if (request === undefined || request.clientId !== client.id || request.expiresAt < at)
    return fail(
      out,
      'PAY_REQUEST_NOT_OPEN',
      'This payment request is no longer open; start again at the shop.',
    );
  const shopper = shopperFor(state, out, cmd.network, cmd.account);
  if (shopper === null) return;
  // The shopper chose the wallet on the approval page: it must hold something in this currency (the
  // card pays what it does not cover). Checked before any limit is counted.
  const payFrom = cmd.payFrom ?? 'card';
  if (payFrom === 'wallet' && walletBalance(state, shopper.id, request.currency) <= 0n)
    return fail(
      out,
      'INSUFFICIENT_FUNDS',
      `Your wallet holds no ${request.currency}; pay by card, or top up the wallet first.`,
      'pay_from',
    );
  const key = handleKey(shopper.network, shopper.account);
  const refused = limitRefusal(state, [], key, shopper, request.amountMinor, request.currency, at);
  if (refused !== null)
    return fail(
      out,
      'PURCHASE_LIMIT_EXCEEDED',
      `${formatMoney({ minor: request.amountMinor, currency: request.currency })} is above your spending limits.`,
    );
  // The fraud controls' spending check, as for every purchase: frozen, cool-down, velocity, the card's
  // daily amount, and the step-up it may ask for.
  const check = checkSpend(state, out.ctx.safety, {
    key,
    shopper,
    amountMinor: request.amountMinor,
    currency: request.currency,
    at,
  });
  if (!check.ok)
    return fail(
      out,
      'PURCHASE_REFUSED',
      replies.refused('This purchase', check.reason, check.detail),
    );
  noteCheckout(state, key, shopper, at);
  const sk = spentKey(key, request.currency, at);
  state.spent.set(sk, (state.spent.get(sk) ?? 0n) + request.amountMinor);
  const merchant = state.merchants.get(client.merchantId)!;
  const payment = newPayment(out, shopper, 'oauth', [], {
    merchantId: merchant.id,
    amountMinor: request.amountMinor,
    feeMinor: feeOf(request.amountMinor, merchant.feeBps ?? out.ctx.feeBps),
    currency: request.currency,
    clientId: client.id,
    requestId: request.id,
    redirectUri: cmd.redirectUri,
    codeChallenge: cmd.codeChallenge,
    payFrom,
  });
  request.status = 'approved';
  request.paymentId = payment.id;
  request.updatedAt = at;
  state.checkout.payRequests.delete(request.id);
  out.fx.checkout.payRequests.add(request);
  track(state, out, payment);
  if (check.stepUp.length > 0) askPaymentStepUp(state, out, payment, shopper, check.stepUp);
  else {
    noteCharge(state, chargeRecord(payment), 1);
    charge(state, out, payment, shopper, `${merchant.name}: ${request.description}`);
  }
  ok(out, 201, paymentView(payment));
}

/** A shop's webhook for its payment, to the client's endpoint, signed with the merchant's secret. */
function onOAuthSettled(state: State, out: Out, payment: Payment): void {
  // Kept in memory while its code may still be exchanged (see expirePayments).
  if (payment.codeUsedAt !== null) state.checkout.payments.delete(payment.id);
  const merchant = state.merchants.get(payment.merchantId!) as Merchant;
  shopWebhook(
    state,
    out,
    payment,
    merchant,
    payment.status === 'paid' ? 'payment.succeeded' : 'payment.failed',
  );
}

/**
 * Tells the shop of a pay-with-tagpay payment what happened to it: a signed webhook to the shop
 * client's URL, or the merchant's when the client has none (none at all: nothing is sent).
 */
function shopWebhook(
  state: State,
  out: Out,
  payment: Payment,
  merchant: Merchant,
  type: 'payment.succeeded' | 'payment.failed' | 'payment.refunded',
): void {
  const client =
    payment.clientId === null ? undefined : state.checkout.clients.get(payment.clientId);
  const url = client?.webhookUrl ?? merchant.webhookUrl;
  if (url === null) return;
  const id = newId('evt', out.ctx.random);
  out.fx.outbox.push({
    key: `webhook:${id}`,
    kind: 'webhook',
    body: {
      merchant_id: merchant.id,
      url,
      event: {
        id,
        object: 'event',
        type,
        created: Math.floor(out.entry.at / 1000),
        data: { object: paymentView(payment) },
      },
    },
  });
}

/**
 * The shop trades its code for the payment: the same client, the exact redirect URI of the
 * authorization, the PKCE verifier matching the challenge (RFC 7636 §4.6), within the code's
 * lifetime, once (RFC 6749 §4.1.2, §10.5). Every failure is the same invalid_grant.
 */
function exchangeCode(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'oauth.exchange' }>,
): void {
  const payment = state.checkout.payments.get(cmd.paymentId);
  const bad = (why: string) => fail(out, 'OAUTH_INVALID_GRANT', why);
  if (payment === undefined || payment.kind !== 'oauth' || payment.clientId !== cmd.clientId)
    return bad('The code is not valid.');
  if (payment.codeUsedAt !== null) return bad('The code was already used.');
  if (payment.createdAt + OAUTH_CODE_TTL_MS < out.entry.at) return bad('The code has expired.');
  if (payment.redirectUri !== cmd.redirectUri)
    return bad('redirect_uri differs from the authorization request.');
  if (payment.codeChallenge !== cmd.challenge)
    return bad('The code_verifier does not match the code_challenge.');
  payment.codeUsedAt = out.entry.at;
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  if (payment.status !== 'charging') state.checkout.payments.delete(payment.id);
  ok(out, 200, paymentView(payment));
}

// ---------------------------------------------------------------------------------------------
// Refunds of pay-with-tagpay payments

/**
 * What a refund of `amount` of a payment sends back to the card: the card's part first, up to what
 * the card paid and was not refunded yet; the rest goes back to the wallet (as cardRefundOf does for
 * an order paid from the wallet first).
 */
function cardRefundOfPayment(payment: Payment, amount: bigint): bigint {
  const cardLeft = payment.amountMinor - payment.walletMinor - payment.refundedMinor;
  return cardLeft <= 0n ? 0n : cardLeft < amount ? cardLeft : amount;
}

/**
 * The merchant refunds a paid pay-with-tagpay payment, all that is left or a part. The card's part
 * goes to the processor as a refund of the payment's charge; a refund wholly of the wallet's part
 * is done here, with no processor. Like an order's refund, one at a time.
 */
function refundPayment(
  state: State,
  out: Out,
  cmd: Extract<CheckoutCommand, { op: 'payment.refund' }>,
): void {
  const payment =
    state.checkout.payments.get(cmd.paymentId) ?? state.checkout.fetched.get(cmd.paymentId);
  if (payment === undefined || (cmd.merchantId !== null && payment.merchantId !== cmd.merchantId))
    return fail(out, 'NOT_FOUND', `No payment ${cmd.paymentId}.`, 'id');
  if (payment.kind !== 'oauth')
    return fail(
      out,
      'PAYMENT_NOT_REFUNDABLE',
      `Payment ${payment.id} paid orders: refund each order (POST /v1/orders/{id}/refund).`,
    );
  if (payment.status !== 'paid' || payment.chargeId === null)
    return fail(
      out,
      'PAYMENT_NOT_REFUNDABLE',
      `Payment ${payment.id} is ${payment.status}; only a paid payment can be refunded.`,
    );
  const left = payment.amountMinor - payment.refundedMinor;
  const amount = cmd.amountMinor === null ? left : BigInt(cmd.amountMinor);
  if (amount <= 0n) return fail(out, 'INVALID_AMOUNT', 'A refund is positive.', 'amount');
  if (amount > left)
    return fail(
      out,
      'REFUND_EXCEEDS_ORDER',
      `Payment ${payment.id} has ${left} minor units left to refund; ${amount} asked.`,
      'amount',
    );
  payment.status = 'refunding';
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  const toCard = cardRefundOfPayment(payment, amount);
  if (toCard === 0n) {
    const done = { orderId: payment.id, ok: true, refundId: null, error: null, restock: false };
    onPaymentRefundResult(state, out, {
      kind: 'refund_result',
      ...done,
      amountMinor: amount.toString(),
    });
    return ok(out, 200, paymentView(payment));
  }
  // Each request is its own attempt (its log position), as for orders' refunds.
  const attempt = out.entry.seq.toString();
  out.fx.outbox.push({
    key: `refund:${payment.id}:${attempt}`,
    kind: 'refund',
    body: {
      order_id: payment.id,
      attempt,
      charge_id: payment.chargeId,
      amount: amount.toString(),
      ...(toCard !== amount && { card_amount: toCard.toString() }),
      restock: false,
    },
  });
  ok(out, 200, paymentView(payment));
}

/**
 * A payment's refund done (or not): the sale is reversed in proportion (the merchant's net and the
 * platform fee, all of the fee at the end), the wallet's share goes back to the wallet, and the
 * shopper and the shop are told. Transfers are append-only: each refund is a new one.
 */
export function onPaymentRefundResult(state: State, out: Out, result: RefundResultEvent): void {
  const payment =
    state.checkout.payments.get(result.orderId) ?? state.checkout.fetched.get(result.orderId);
  if (payment === undefined || payment.status !== 'refunding') return;
  payment.updatedAt = out.entry.at;
  out.fx.checkout.payments.add(payment);
  const merchant = state.merchants.get(payment.merchantId!)!;
  if (!result.ok) {
    payment.status = 'paid';
    payment.failure = `refund_failed: ${result.error ?? 'processor error'}`;
    return;
  }
  const amount =
    result.amountMinor === undefined
      ? payment.amountMinor - payment.refundedMinor
      : BigInt(result.amountMinor);
  if (payment.refundedMinor + amount > payment.amountMinor)
    throw new Error(`engine: payment ${payment.id} refunded beyond its amount`);
  const toCard = cardRefundOfPayment(payment, amount);
  const feeOfRefunded = (refunded: bigint) => (payment.feeMinor * refunded) / payment.amountMinor;
  const fee = feeOfRefunded(payment.refundedMinor + amount) - feeOfRefunded(payment.refundedMinor);
  payment.refundedMinor += amount;
  payment.status = payment.refundedMinor === payment.amountMinor ? 'refunded' : 'paid';
  const shopperId = payment.shopperId;
  const funding = accounts.funding(shopperId);
  const postings = [];
  if (amount - fee > 0n)
    postings.push({
      from: accounts.payable(merchant.id),
      to: funding,
      minor: amount - fee,
      currency: payment.currency,
    });
  if (fee > 0n)
    postings.push({ from: accounts.fees(), to: funding, minor: fee, currency: payment.currency });
  // The wallet's share goes on from the shopper's funding account to the wallet it came from.
  if (amount - toCard > 0n)
    postings.push({
      from: funding,
      to: accounts.wallet(shopperId),
      minor: amount - toCard,
      currency: payment.currency,
    });
  const transfer = {
    id: newId('trf', out.ctx.random),
    ref: payment.id,
    at: out.entry.at,
    postings,
  };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
  const shopper = state.shopperById.get(shopperId);
  const money = { minor: amount, currency: payment.currency };
  if (shopper !== undefined)
    out.email(shopper.email, {
      subject: `Refund: ${merchant.name}`,
      text: replies.refunded(merchant.name, money),
    });
  shopWebhook(state, out, payment, merchant, 'payment.refunded');
}
