import { hashCode, looksLikeCode, newCode, newId, type RandomBytes } from '../core/codes.ts';
import { errorBody, type ErrorCode, ERROR_STATUS } from '../core/errors.ts';
import { accounts } from '../core/ledger.ts';
import {
  BUY_LINK_TTL_MS,
  DAILY_LIMIT_MAJOR_DEFAULT,
  DAY_MS,
  POST_TEXT_CHARS_MAX,
  PURCHASE_LIMIT_MAJOR_DEFAULT,
  WAITLIST_PER_OFFER_MAX,
  WRONG_CODE_COUNTERS_MAX,
  WRONG_CODES_PER_WINDOW_MAX,
  WRONG_CODES_WINDOW_MS,
} from '../core/limits.ts';
import { formatMoney, minorPerMajor } from '../core/money.ts';
import { readHashtags, RESERVED_HASHTAGS } from '../core/post-grammar.ts';
import {
  checkoutReplies,
  emails,
  replies,
  UNVERIFIED_NOTE,
  type DeclineReason,
} from '../core/replies.ts';
import {
  actorOf,
  askStepUp,
  audit,
  checkSpend,
  keyIdOf,
  noteCheckout,
  notMeLink,
  onLinked,
  onSafetyCommand,
  type SafetyConfig,
  orderStepUpSubject,
} from './flows/safety.ts';
import { lookalikeProblem } from './flows/lookalike.ts';
import type {
  ApiCommand,
  ApiEvent,
  ChargeResultEvent,
  LogEntry,
  PostEvent,
  RefundResultEvent,
  ShippingAddress,
} from './events.ts';
import {
  Effects,
  addHeld,
  handleKey,
  pendingOf,
  PENDING_STATUSES,
  removePending,
  shopperHandles,
  State,
  type Merchant,
  type Offer,
  type Order,
  type OrderStatus,
  rememberRetired,
  type RetiredCode,
  type Shopper,
  type WaitEntry,
} from './state.ts';
import { merchantView, offerView, orderView, shopperView } from './views.ts';
import {
  cardPartOfOrder,
  cardRefundOf,
  refundOrderWallet,
  WALLET_CHARGE_ID,
  isMoneyCommand,
  moneyApi,
  moneyChargeResult,
  moneyCreditResult,
  moneyNextDeadline,
  moneyPost,
  paymentStepUpSubject,
  cancelPaymentsOf,
  canceledPaymentsText,
  moneyTick,
  onShopperLinked,
  refundRefusal,
} from './flows/money.ts';
import { updateOffer } from './flows/offer-edit.ts';
import { partialRefund, refundShare } from './flows/refunds.ts';
import {
  cardOfferHoldsTag,
  cardOfferCommand,
  enrolByPost,
  onCardTransaction,
} from './flows/card-offers.ts';
import { onPayoutResult, runPayouts } from './flows/payouts.ts';
import {
  chargeFailed,
  creditOrderSale,
  limitRefusal,
  orderPaid,
  postedOptions,
  reserveOrder,
  startCharge,
} from './flows/checkout-core.ts';
import {
  addToCart,
  webPaymentStepUpSubject,
  checkoutByPost,
  confirmPayment,
  expirePayments,
  onCheckoutApi,
  onOfferPosted,
  onPaymentRefundResult,
  onPaymentResult,
} from './flows/checkout.ts';
import { isCheckoutCommand } from './flows/checkout-events.ts';
import type { Payment } from './flows/checkout-state.ts';

/**
 * The engine's decisions: pure functions of (state, log entry) that change the in-memory state and
 * record the effects to commit. Clock and randomness come in through the entry's time and `ctx`, so
 * the same log gives the same state. Expected outcomes (sold out, declined, expired code) are values
 * and replies; a broken invariant throws and stops the batch before anything is written.
 */

export interface DecideContext {
  random: RandomBytes;
  feeBps: number;
  /** Where people sign up, for links in replies. */
  publicUrl: string;
  /** tagpay's own handle on each network; its own posts are never read as commands. */
  botHandle: (network: string) => string;
  /** Fraud controls: velocity limits, anomaly step-up, the secret that signs e-mailed links. */
  safety: SafetyConfig;
  /** How long an unlinked recipient has to claim money (CLAIM_PERIOD_MS_DEFAULT when absent). */
  claimPeriodMs?: number;
  /** The currency of an amount written without one, for shoppers who chose none. */
  defaultCurrency?: string;
  /** The signed buy-now link of an offer, expiring at the given time (src/core/signing.ts). */
  buyLink?: (offerId: string, expiresAtMs: number) => string;
}

/** An outbox reply's body, as the post deliverer reads it (src/outbox/deliverers.ts, PostBody). */
interface ReplyBody {
  network: string;
  as: string;
  text: string;
  reply_to: string | null;
  email_fallback?: { to: string };
}

/** Emits the effects of one log entry under keys derived from the entry's key, so replay repeats them exactly. */
export class Out {
  private n = 0;
  constructor(
    readonly entry: LogEntry,
    readonly fx: Effects,
    readonly ctx: DecideContext,
    private readonly state: State,
  ) {}
  private key(kind: string): string {
    return `${kind}:${this.entry.key}:${this.n++}`;
  }
  /**
   * A reply from tagpay. When it answers a linked shopper (`to`, or the author of the post being
   * answered), the row carries the same message as an e-mail to them: the outbox sends that instead
   * when the reply cannot go out in time (see src/outbox/deliverers.ts, REPLY_EMAIL_FALLBACK_MS).
   */
  reply(network: string, replyTo: string | null, text: string, to?: string | null): void {
    const post = this.entry.body.kind === 'post' ? this.entry.body : null;
    const account =
      to ??
      (post !== null && post.network === network && post.postId === replyTo ? post.author : null);
    const shopper =
      account === null
        ? undefined
        : this.state.shoppers.get(handleKey(network, account.toLowerCase()));
    const body: ReplyBody = { network, as: this.ctx.botHandle(network), text, reply_to: replyTo };
    // Only the address: the deliverer words the e-mail from the reply (leaner rows, DESIGN.md).
    if (shopper !== undefined) body.email_fallback = { to: shopper.email };
    this.fx.outbox.push({ key: this.key('post'), kind: 'post', body });
  }
  post(network: string, as: string, text: string, offerId?: string): void {
    this.fx.outbox.push({
      key: this.key('post'),
      kind: 'post',
      // An offer post names its offer: the deliverer reports the post id back (`#cart` replies).
      body: {
        network,
        as,
        text,
        reply_to: null,
        ...(offerId !== undefined && { offer_id: offerId }),
      },
    });
  }
  /** A direct message (Mastodon's `visibility: direct`), for networks that have them. */
  direct(network: string, text: string): void {
    this.fx.outbox.push({
      key: this.key('post'),
      kind: 'post',
      body: { network, as: this.ctx.botHandle(network), text, reply_to: null, direct: true },
    });
  }
  email(to: string, message: { subject: string; text: string }): void {
    this.fx.outbox.push({ key: this.key('email'), kind: 'email', body: { to, ...message } });
  }
  webhook(merchant: Merchant, type: string, object: unknown): void {
    if (merchant.webhookUrl === null) return;
    const id = newId('evt', this.ctx.random);
    this.fx.outbox.push({
      key: `webhook:${id}`,
      kind: 'webhook',
      body: {
        merchant_id: merchant.id,
        url: merchant.webhookUrl,
        event: {
          id,
          object: 'event',
          type,
          created: Math.floor(this.entry.at / 1000),
          data: { object },
        },
      },
    });
  }
}

export function decide(state: State, entry: LogEntry, fx: Effects, ctx: DecideContext): void {
  const out = new Out(entry, fx, ctx, state);
  const body = entry.body;
  switch (body.kind) {
    case 'post':
      return onPost(state, out, body);
    case 'api':
      return onApi(state, out, body);
    case 'charge_result':
      // A payment (buy-now, cart, pay with tagpay) is charged once for all its orders.
      if (body.orderId.startsWith('pay_')) return onPaymentResult(state, out, body);
      return onChargeResult(state, out, body);
    case 'refund_result':
      if (body.orderId.startsWith('pay_')) return onPaymentRefundResult(state, out, body);
      return onRefundResult(state, out, body);
    case 'tick':
      moneyTick(state, out);
      expireDue(state, out);
      return expirePayments(state, out);
    case 'card_credit_result':
      return moneyCreditResult(state, out, body);
    case 'offer_posted':
      return onOfferPosted(state, out, body);
    case 'card_transaction':
      return onCardTransaction(state, out, body);
    case 'payout_result':
      return onPayoutResult(state, out, body);
  }
}

/** The earliest deadline of a pending checkout, so the clock knows when to append a tick. */
export function nextDeadline(state: State): number | null {
  const checkout = state.deadlines.peek();
  const money = moneyNextDeadline(state);
  return checkout === null ? money : money === null ? checkout : Math.min(checkout, money);
}

// ---------------------------------------------------------------------------------------------
// Posts

/** What a post asks of tagpay, if anything. */
export type PostMatch =
  | { kind: 'none' }
  | { kind: 'cancel' }
  | { kind: 'confirm'; order: Order }
  | { kind: 'confirm_payment'; payment: Payment }
  | { kind: 'cart' }
  | { kind: 'checkout' }
  | { kind: 'retired_code'; reason: RetiredCode['reason'] }
  | { kind: 'wrong_code' }
  | { kind: 'buy'; offer: Offer };

/**
 * Reads a post against the live offers and pending codes. Pure and cheap: this is what every post of
 * a network's firehose goes through (the `ingest` benchmark measures it).
 */
export function matchPost(
  state: State,
  botHandle: string,
  network: string,
  author: string,
  text: string,
  /** The post's ASCII hashtags when the caller has read them already (a connector, from facets). */
  known?: readonly string[],
): PostMatch {
  if (author === botHandle) return { kind: 'none' };
  if (text.length > POST_TEXT_CHARS_MAX) return { kind: 'none' };
  const tags = known ?? readHashtags(text).tags;
  if (tags.length === 0) return { kind: 'none' };
  if (tags.includes('cancel')) return { kind: 'cancel' };
  if (tags.includes('cart')) return { kind: 'cart' };
  if (tags.includes('checkout')) return { kind: 'checkout' };
  const key = handleKey(network, author);
  let codeShaped = false;
  for (const tag of tags) {
    if (!looksLikeCode(tag)) continue;
    codeShaped = true;
    const order = state.orderByCode.get(hashCode(tag));
    // A code posted by any other handle does nothing: it is bound to one handle and one checkout.
    if (order !== undefined && handleKey(order.network, order.handle) === key)
      return { kind: 'confirm', order };
    const retired = order === undefined ? state.retiredCodes.get(hashCode(tag)) : undefined;
    if (retired !== undefined && retired.handleKey === key)
      return { kind: 'retired_code', reason: retired.reason };
    const payment =
      order === undefined ? state.checkout.paymentByCode.get(hashCode(tag)) : undefined;
    if (payment !== undefined && handleKey(payment.network, payment.account) === key)
      return { kind: 'confirm_payment', payment };
  }
  for (const tag of tags) {
    const offer = state.offerByTag.get(tag);
    if (offer === undefined) continue;
    // The merchant's own offer post carries its hashtag: a merchant never buys from itself.
    const merchant = state.merchants.get(offer.merchantId)!;
    if (handlesOf(merchant).some((h) => h.network === network && h.handle === author)) continue;
    return { kind: 'buy', offer };
  }
  // A code-shaped hashtag that is none of this handle's codes: a guess, or someone else's code.
  return codeShaped ? { kind: 'wrong_code' } : { kind: 'none' };
}

function onPost(state: State, out: Out, post: PostEvent): void {
  const author = post.author.toLowerCase();
  if (moneyPost(state, out, post, author)) return;
  const match = matchPost(state, out.ctx.botHandle(post.network), post.network, author, post.text);
  switch (match.kind) {
    case 'cancel':
      return cancel(state, out, post, handleKey(post.network, author));
    case 'confirm':
      if (
        (state.wrongCodes.get(handleKey(post.network, author))?.pausedUntil ?? 0) > out.entry.at
      ) {
        return out.reply(post.network, post.postId, replies.codesPaused());
      }
      return confirm(state, out, post, match.order);
    case 'none':
      return enrolByPost(state, out, post, author);
    case 'confirm_payment':
      if (
        (state.wrongCodes.get(handleKey(post.network, author))?.pausedUntil ?? 0) > out.entry.at
      ) {
        return out.reply(post.network, post.postId, replies.codesPaused());
      }
      return confirmPayment(state, out, post, match.payment);
    case 'cart':
      return addToCart(state, out, post, author);
    case 'checkout':
      return checkoutByPost(state, out, post, author);
    case 'wrong_code':
      return countWrongCode(state, out, post, handleKey(post.network, author));
    case 'buy':
      match.offer.hashtagPosts++;
      out.fx.offers.add(match.offer);
      return buy(state, out, post, author, match.offer);
    case 'retired_code': {
      const text = {
        used: replies.codeUsed(),
        expired: replies.codeExpired(),
        canceled: replies.codeCanceled(),
      }[match.reason];
      return out.reply(post.network, post.postId, text);
    }
  }
}

/**
 * Counts a wrong code from a handle; at WRONG_CODES_PER_WINDOW_MAX in a window its codes pause for
 * the window, and the handle is told once. Guesses get no answer otherwise, so they learn nothing.
 */
function countWrongCode(state: State, out: Out, post: PostEvent, key: string): void {
  const at = out.entry.at;
  let counter = state.wrongCodes.get(key);
  if (counter === undefined || at - counter.since >= WRONG_CODES_WINDOW_MS) {
    counter = { since: at, count: 0, pausedUntil: counter?.pausedUntil ?? 0 };
  }
  state.wrongCodes.delete(key);
  state.wrongCodes.set(key, counter);
  for (const [oldest] of state.wrongCodes) {
    if (state.wrongCodes.size <= WRONG_CODE_COUNTERS_MAX) break;
    state.wrongCodes.delete(oldest);
  }
  counter.count++;
  out.fx.safety.wrongCodes.add(key);
  if (counter.count === WRONG_CODES_PER_WINDOW_MAX) {
    counter.pausedUntil = at + WRONG_CODES_WINDOW_MS;
    audit(out.fx, at, 'codes.paused', 'engine', key, { until: counter.pausedUntil });
    out.reply(post.network, post.postId, replies.codesPaused());
  }
}

/** Takes a code out of service, remembering whose it was and why, within RETIRED_CODES_MAX. */
export function retireCode(
  state: State,
  order: Order,
  reason: RetiredCode['reason'],
  at: number,
): void {
  if (order.codeHash === null) return;
  state.orderByCode.delete(order.codeHash);
  rememberRetired(state, order.codeHash, {
    handleKey: handleKey(order.network, order.handle),
    reason,
    at,
  });
}

export function isOnSale(offer: Offer, at: number): boolean {
  return (
    offer.status === 'live' && offer.startsAt <= at && (offer.endsAt === null || at < offer.endsAt)
  );
}

function buy(state: State, out: Out, post: PostEvent, author: string, offer: Offer): void {
  const options = postedOptions(out, post, offer, offer.hashtag);
  if (options === null) return;
  const request = {
    network: post.network,
    handle: author,
    variant: options.variant,
    quantity: options.quantity,
    postId: post.postId,
  };
  if (offer.available < options.quantity) return joinWaitlist(state, out, offer, request);
  openCheckout(state, out, offer, request, false);
}

interface BuyRequest {
  network: string;
  handle: string;
  variant: string | null;
  quantity: number;
  postId: string;
}

/** A shopper's limits in a currency: their own where they set them in it, the defaults otherwise. */
export function limitsOf(
  shopper: Shopper,
  currency: string,
): { perPurchase: bigint; perDay: bigint } {
  const unit = minorPerMajor(currency);
  const own = shopper.limitCurrency === currency;
  return {
    perPurchase: (own ? shopper.purchaseLimitMinor : null) ?? PURCHASE_LIMIT_MAJOR_DEFAULT * unit,
    perDay: (own ? shopper.dailyLimitMinor : null) ?? DAILY_LIMIT_MAJOR_DEFAULT * unit,
  };
}

export function spentKey(key: string, currency: string, at: number): string {
  return `${key}|${currency}|${Math.floor(at / DAY_MS)}`;
}

function openCheckout(
  state: State,
  out: Out,
  offer: Offer,
  req: BuyRequest,
  fromWaitlist: boolean,
): void {
  const at = out.entry.at;
  const key = handleKey(req.network, req.handle);
  const shopper = state.shoppers.get(key);
  const amount = offer.priceMinor * BigInt(req.quantity);
  const refused = limitRefusal(
    state,
    [{ offer, quantity: req.quantity }],
    key,
    shopper,
    amount,
    offer.currency,
    at,
  );
  // The fraud controls' one check (frozen, cool-down, velocity; what asks for a step-up).
  const check = shopper
    ? checkSpend(state, out.ctx.safety, {
        key,
        shopper,
        amountMinor: amount,
        currency: offer.currency,
        at,
      })
    : null;
  const stopped = refused ?? (check !== null && !check.ok ? check : null);
  if (stopped !== null) {
    out.reply(
      req.network,
      req.postId,
      replies.refused(offer.title, stopped.reason, stopped.detail),
      req.handle,
    );
    return;
  }
  const merchant = state.merchants.get(offer.merchantId)!;
  const order = reserveOrder(
    state,
    out,
    { ...req, offer, shopper },
    shopper ? 'awaiting_confirmation' : 'awaiting_signup',
    at + offer.windowMs,
  );

  const lead = fromWaitlist ? replies.waitlistServed(offer.title) + ' ' : '';
  if (shopper) {
    noteCheckout(state, key, shopper, at);
    if (check !== null && check.ok && check.stepUp.length > 0) {
      askStepUp(
        out,
        order,
        offer,
        shopper,
        check.stepUp,
        titleOf(offer, order),
        lead,
        unverifiedNote(merchant),
      );
    } else issueCode(state, out, order, offer, shopper, lead);
  } else {
    const link = `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(req.network)}&handle=${encodeURIComponent(req.handle)}`;
    out.reply(
      req.network,
      req.postId,
      lead + replies.signup(offer.title, link, windowMinutes(offer)) + unverifiedNote(merchant),
    );
  }
}

/** Said after replies about the offers of a merchant the operator has not verified. */
function unverifiedNote(merchant: Merchant): string {
  return merchant.verified ? '' : ` ${UNVERIFIED_NOTE}`;
}

export function windowMinutes(offer: Offer): number {
  return Math.max(1, Math.round(offer.windowMs / 60_000));
}

export function titleOf(offer: Offer, order: Order): string {
  const variant = order.variant === null ? '' : ` (${order.variant})`;
  return order.quantity === 1
    ? `${offer.title}${variant}`
    : `${order.quantity} × ${offer.title}${variant}`;
}

function issueCode(
  state: State,
  out: Out,
  order: Order,
  offer: Offer,
  shopper: Shopper,
  lead: string,
): void {
  const code = newCode(out.ctx.random);
  order.codeHash = hashCode(code);
  order.status = 'awaiting_confirmation';
  order.shopperId = shopper.id;
  state.orderByCode.set(order.codeHash, order);
  out.fx.orders.add(order);
  const total = { minor: order.amountMinor, currency: order.currency };
  const title = titleOf(offer, order);
  const merchant = state.merchants.get(order.merchantId)!;
  // No e-mail fallback: the code goes by e-mail anyway, just below.
  out.reply(
    order.network,
    order.postId,
    lead + replies.confirm(title, total, code, windowMinutes(offer)) + unverifiedNote(merchant),
    null,
  );
  out.email(
    shopper.email,
    emails.confirm(title, total, code, windowMinutes(offer), notMeLink(out, shopper.id)),
  );
}

function joinWaitlist(state: State, out: Out, offer: Offer, req: BuyRequest): void {
  let queue = state.waitlists.get(offer.id);
  if (queue === undefined) state.waitlists.set(offer.id, (queue = []));
  const waitKey = `${offer.id}|${handleKey(req.network, req.handle)}`;
  let position = state.waiting.has(waitKey)
    ? queue.findIndex((w) => w.network === req.network && w.handle === req.handle) + 1
    : 0;
  if (position === 0 && queue.length >= WAITLIST_PER_OFFER_MAX) {
    return out.reply(req.network, req.postId, replies.soldOutWaitlistFull(offer.title), req.handle);
  }
  if (position === 0) {
    state.waiting.add(waitKey);
    const entry: WaitEntry = {
      id: newId('wai', out.ctx.random),
      offerId: offer.id,
      network: req.network,
      handle: req.handle,
      variant: req.variant,
      quantity: req.quantity,
      postId: req.postId,
      joinedAt: out.entry.at,
      seq: out.entry.seq,
      status: 'waiting',
    };
    queue.push(entry);
    out.fx.waitlist.add(entry);
    out.fx.newWaitlist.add(entry);
    position = queue.length;
  }
  out.reply(req.network, req.postId, replies.soldOut(offer.title, position), req.handle);
}

/** Serves the waitlist first in, first out while the stock returned covers the first in line. */
export function serveWaitlist(state: State, out: Out, offer: Offer): void {
  const queue = state.waitlists.get(offer.id);
  if (queue === undefined) return;
  while (
    queue.length > 0 &&
    queue[0]!.quantity <= offer.available &&
    isOnSale(offer, out.entry.at)
  ) {
    const entry = queue.shift()!;
    state.waiting.delete(`${offer.id}|${handleKey(entry.network, entry.handle)}`);
    entry.status = 'served';
    out.fx.waitlist.add(entry);
    openCheckout(state, out, offer, entry, true);
  }
  if (queue.length === 0) state.waitlists.delete(offer.id);
}

function confirm(state: State, out: Out, post: PostEvent, order: Order): void {
  if (order.status !== 'awaiting_confirmation') return;
  if (out.entry.at > order.expiresAt) {
    settle(state, out, order, 'expired', null);
    return out.reply(post.network, post.postId, replies.codeExpired());
  }
  beginCharge(state, out, order);
}

/** Charges an order: its code (if any) is used up, the charge goes to the outbox. */
function beginCharge(state: State, out: Out, order: Order): void {
  const offer = state.offers.get(order.offerId)!;
  const shopper = state.shoppers.get(handleKey(order.network, order.handle))!;
  retireCode(state, order, 'used', out.entry.at);
  startCharge(state, out, order, shopper);
  // The wallet pays first; what it covers needs no card charge (WALLET_CHARGE_ID stands for it).
  const cardMinor = cardPartOfOrder(state, out, order);
  if (cardMinor === 0n) {
    const paid = { orderId: order.id, ok: true, reason: null, chargeId: WALLET_CHARGE_ID };
    return onChargeResult(state, out, { kind: 'charge_result', ...paid });
  }
  out.fx.outbox.push({
    key: `charge:${order.id}`,
    kind: 'charge',
    body: {
      order_id: order.id,
      card_token: shopper.cardToken,
      amount: cardMinor.toString(),
      currency: order.currency,
      description: `${offer.title} (${order.id})`,
    },
  });
}

function cancel(state: State, out: Out, post: PostEvent, key: string): void {
  // Leave the waitlists first: releasing this handle's holds serves the waitlists, and must not hand
  // the released units straight back to the same handle.
  let left = 0;
  for (const [offerId, queue] of state.waitlists) {
    if (!state.waiting.has(`${offerId}|${key}`)) continue;
    for (let i = queue.length - 1; i >= 0; i--) {
      const w = queue[i]!;
      if (handleKey(w.network, w.handle) !== key) continue;
      state.waiting.delete(`${w.offerId}|${key}`);
      w.status = 'left';
      out.fx.waitlist.add(w);
      queue.splice(i, 1);
      left++;
    }
  }
  const pending = pendingOf(state, key);
  for (const order of pending) settle(state, out, order, 'canceled', null);
  // Payments by post waiting for this handle's code or approval end too, and the reply names them.
  const shopper = state.shoppers.get(key);
  const payments = shopper === undefined ? [] : cancelPaymentsOf(state, out, shopper, null);
  const parts: string[] = [];
  if (pending.length + left > 0) parts.push(replies.canceled(pending.length + left));
  if (payments.length > 0) parts.push(canceledPaymentsText(shopper!, payments));
  out.reply(
    post.network,
    post.postId,
    parts.length > 0 ? parts.join(' ') : replies.nothingToCancel(),
  );
}

/**
 * Ends an order that did not get paid: its reservation is released, the spend it counted is given
 * back, and the waitlist is served from the returned stock.
 */
export function settle(
  state: State,
  out: Out,
  order: Order,
  status: OrderStatus,
  failure: string | null,
): void {
  const key = handleKey(order.network, order.handle);
  const offer = state.offers.get(order.offerId)!;
  if (order.codeHash !== null && state.orderByCode.get(order.codeHash) === order) {
    retireCode(
      state,
      order,
      status === 'expired' ? 'expired' : status === 'canceled' ? 'canceled' : 'used',
      out.entry.at,
    );
  }
  removePending(state, key, order);
  state.activeOrders.delete(order.id);
  order.status = status;
  order.failure = failure;
  order.updatedAt = out.entry.at;
  out.fx.orders.add(order);
  offer.available += order.quantity;
  if (offer.available > offer.quantity - offer.sold)
    throw new Error(`engine: offer ${offer.id} over-released`);
  out.fx.offers.add(offer);
  addHeld(state, offer, key, -order.quantity);
  const sk = spentKey(key, order.currency, order.createdAt);
  const spent = (state.spent.get(sk) ?? 0n) - order.amountMinor;
  if (spent > 0n) state.spent.set(sk, spent);
  else state.spent.delete(sk);
  serveWaitlist(state, out, offer);
}

function expireDue(state: State, out: Out): void {
  const at = out.entry.at;
  for (
    let next = state.deadlines.peek();
    next !== null && next <= at;
    next = state.deadlines.peek()
  ) {
    const order = state.activeOrders.get(state.deadlines.pop()!);
    if (order === undefined || !PENDING_STATUSES.includes(order.status) || order.expiresAt > at)
      continue;
    settle(state, out, order, 'expired', null);
    // A web purchase (a step-up never approved) has no post to answer under.
    if (order.postId === '') continue;
    out.reply(
      order.network,
      order.postId,
      replies.expired(titleOf(state.offers.get(order.offerId)!, order)),
      order.handle,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Processor results

function onChargeResult(state: State, out: Out, result: ChargeResultEvent): void {
  if (moneyChargeResult(state, out, result)) return;
  const order = state.activeOrders.get(result.orderId);
  if (order === undefined || order.status !== 'charging') return;
  const offer = state.offers.get(order.offerId)!;
  const merchant = state.merchants.get(order.merchantId)!;
  const title = titleOf(offer, order);
  if (!result.ok) {
    const reason: DeclineReason = result.reason ?? 'card_declined';
    chargeFailed(state, out, order, reason);
    return out.reply(order.network, order.postId, replies.declined(title, reason), order.handle);
  }
  orderPaid(state, out, order, result.chargeId);

  if (creditOrderSale(state, out, order, merchant, title))
    return out.webhook(merchant, 'order.paid', orderView(order));

  const total = { minor: order.amountMinor, currency: order.currency };
  out.reply(order.network, order.postId, replies.paid(title, total, order.id), order.handle);
  const shopper = state.shoppers.get(handleKey(order.network, order.handle));
  if (shopper)
    out.email(
      shopper.email,
      emails.receipt(title, total, order.id, formatAddress(order.shippingAddress!)),
    );
  out.webhook(merchant, 'order.paid', orderView(order));
}

/** Countries that write the city before the postal code (the Universal Postal Union's formats). */
const CITY_FIRST = new Set([
  'US',
  'CA',
  'AU',
  'GB',
  'IE',
  'NZ',
  'IN',
  'SG',
  'HK',
  'KR',
  'JP',
  'BR',
  'MX',
]);

export function formatAddress(a: ShippingAddress): string {
  const cityLine = CITY_FIRST.has(a.country)
    ? [a.city, a.region, a.postal_code].filter(Boolean).join(' ')
    : [a.postal_code, a.city].join(' ');
  return [
    a.name,
    a.line1,
    a.line2,
    cityLine,
    CITY_FIRST.has(a.country) ? undefined : a.region,
    a.country,
  ]
    .filter((line) => line !== undefined && line !== '')
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// API commands

export function ok(out: Out, status: number, body: unknown): void {
  out.fx.apiResults.push({ key: out.entry.key, status, body });
}

export function fail(out: Out, code: ErrorCode, message: string, param?: string): void {
  out.fx.apiResults.push({
    key: out.entry.key,
    status: ERROR_STATUS[code],
    body: errorBody(code, message, param),
  });
}

function onApi(state: State, out: Out, event: ApiEvent): void {
  const cmd = event.command;
  if (isMoneyCommand(cmd)) return moneyApi(state, out, cmd, (c) => createOffer(state, out, c));
  if (isCheckoutCommand(cmd)) return onCheckoutApi(state, out, cmd);
  switch (cmd.op) {
    case 'merchant.create':
      return createMerchant(state, out, cmd);
    case 'merchant.add_handle':
      return addMerchantHandle(state, out, cmd);
    case 'merchant.rotate_key': {
      const merchant = state.merchants.get(cmd.merchantId);
      if (merchant === undefined)
        return fail(out, 'NOT_FOUND', `No merchant ${cmd.merchantId}.`, 'id');
      out.fx.apiKeys.push({ hash: cmd.keyHash, merchantId: merchant.id, at: out.entry.at });
      out.fx.revokeKeys.push({ merchantId: merchant.id, keep: cmd.keyHash, at: out.entry.at });
      audit(out.fx, out.entry.at, 'api_key.replaced', actorOf(out), keyIdOf(cmd.keyHash), {
        merchant_id: merchant.id,
        others_revoked: true,
      });
      return ok(out, 200, merchantView(merchant));
    }
    case 'offer.create':
      return createOffer(state, out, cmd);
    case 'offer.set_status':
      return setOfferStatus(state, out, cmd);
    case 'offer.update':
      return updateOffer(state, out, cmd, serveWaitlist);
    case 'shopper.link':
      return linkShopper(state, out, cmd);
    case 'shopper.add_handle':
      return addShopperHandle(state, out, cmd);
    case 'order.refund':
      return refundOrder(state, out, cmd);
    case 'step_up.approve':
    case 'shopper.freeze':
    case 'shopper.unfreeze':
    case 'merchant.set_verified':
    case 'api_key.create':
    case 'api_key.revoke':
    case 'merchant.rotate_webhook_secret':
    case 'merchant.retire_webhook_secret':
      return onSafetyCommand(state, out, cmd, {
        stepUpSubject: (id) =>
          orderStepUpSubject(state, id, (order) => beginCharge(state, out, order)) ??
          webPaymentStepUpSubject(state, out, id) ??
          paymentStepUpSubject(state, out, id),
        cancelPending: (order, failure) => {
          settle(state, out, order, 'canceled', failure);
          out.reply(order.network, order.postId, replies.canceled(1));
        },
        cancelOthers: (shopper) => cancelPaymentsOf(state, out, shopper, 'frozen').map((p) => p.id),
      });
    case 'card_offer.create':
    case 'card_offer.end':
      return cardOfferCommand(state, out, cmd);
    case 'payout.run':
      return runPayouts(state, out, cmd);
  }
}

/** The order ids a log entry needs from the database before it is decided (see State.fetched). */
export function ordersNeeded(entry: LogEntry): string | null {
  const body = entry.body;
  // A payment's refund names the payment (`pay_…`): read from the payments table instead.
  if (body.kind === 'refund_result') return body.orderId;
  if (body.kind === 'api' && body.command.op === 'order.refund') return body.command.orderId;
  if (body.kind === 'api' && body.command.op === 'payment.refund') return body.command.paymentId;
  return null;
}

function refundOrder(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'order.refund' }>,
): void {
  const order = state.activeOrders.get(cmd.orderId) ?? state.fetched.get(cmd.orderId);
  if (order === undefined || (cmd.merchantId !== null && order.merchantId !== cmd.merchantId)) {
    return fail(out, 'NOT_FOUND', `No order ${cmd.orderId}.`, 'id');
  }
  if (order.status !== 'paid' || order.chargeId === null) {
    return fail(
      out,
      'ORDER_NOT_REFUNDABLE',
      `Order ${order.id} is ${order.status}; only a paid order can be refunded.`,
    );
  }
  const notRefundable = refundRefusal(state, order);
  if (notRefundable !== null) return fail(out, 'ORDER_NOT_REFUNDABLE', notRefundable);
  const partial = partialRefund(order, cmd);
  if (!partial.ok) return fail(out, partial.code, partial.message, partial.param);
  order.status = 'refunding';
  order.updatedAt = out.entry.at;
  out.fx.orders.add(order);
  // Each refund request is its own attempt (keyed by its log position): after a failed refund, a
  // new request must reach the processor and the log under new keys, not be taken for a repeat.
  const attempt = out.entry.seq.toString();
  const toCard = cardRefundOf(state, order, partial.amountMinor);
  if (toCard === 0n) {
    // All of it goes back to the wallet: nothing goes to the processor, the refund is done here.
    const amountMinor = partial.amountMinor.toString();
    const done = { orderId: order.id, ok: true, refundId: null, error: null, amountMinor };
    const restock = { restock: cmd.restock, restockQuantity: partial.restockQuantity };
    onRefundResult(state, out, { kind: 'refund_result', ...restock, ...done });
    return ok(out, 200, orderView(order));
  }
  out.fx.outbox.push({
    key: `refund:${order.id}:${attempt}`,
    kind: 'refund',
    body: {
      order_id: order.id,
      attempt,
      charge_id: order.chargeId,
      amount: partial.amountMinor.toString(),
      // The wallet's part of an order paid from the wallet first goes back to the wallet, not the card.
      ...(toCard !== partial.amountMinor && { card_amount: toCard.toString() }),
      restock: cmd.restock,
      restock_quantity: partial.restockQuantity,
    },
  });
  ok(out, 200, orderView(order));
}

/**
 * A refund done by the processor: the sale's transfer is reversed by a new transfer (transfers are
 * append-only), units go back on sale if the merchant asked, and buyer and merchant are told.
 */
function onRefundResult(state: State, out: Out, result: RefundResultEvent): void {
  const order = state.fetched.get(result.orderId);
  if (order === undefined || order.status !== 'refunding') return;
  const merchant = state.merchants.get(order.merchantId)!;
  order.updatedAt = out.entry.at;
  out.fx.orders.add(order);
  if (!result.ok) {
    order.status = 'paid';
    order.failure = `refund_failed: ${result.error ?? 'processor error'}`;
    out.webhook(merchant, 'order.refund_failed', orderView(order));
    return;
  }
  const share = refundShare(order, result);
  order.refundedMinor += share.amountMinor;
  order.status = order.refundedMinor === order.amountMinor ? 'refunded' : 'paid';
  const shopperId = order.shopperId!;
  const net = share.amountMinor - share.feeMinor;
  const postings = [];
  if (net > 0n)
    postings.push({
      from: accounts.payable(merchant.id),
      to: accounts.funding(shopperId),
      minor: net,
      currency: order.currency,
    });
  if (share.feeMinor > 0n)
    postings.push({
      from: accounts.fees(),
      to: accounts.funding(shopperId),
      minor: share.feeMinor,
      currency: order.currency,
    });
  const transfer = { id: newId('trf', out.ctx.random), ref: order.id, at: out.entry.at, postings };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
  refundOrderWallet(state, out, order, share.amountMinor);
  const offer = state.offers.get(order.offerId);
  const key = handleKey(order.network, order.handle);
  if (offer !== undefined && order.status === 'refunded')
    addHeld(state, offer, key, -order.quantity);
  const units = Math.min(share.restockQuantity, offer?.sold ?? 0);
  if (offer !== undefined && result.restock && units > 0) {
    order.restocked = (order.restocked ?? 0) + units;
    offer.sold -= units;
    offer.available += units;
    if (offer.sold < 0) throw new Error(`engine: offer ${offer.id} sold below zero`);
    out.fx.offers.add(offer);
    serveWaitlist(state, out, offer);
  }
  const title = offer ? titleOf(offer, order) : order.id;
  const total = { minor: share.amountMinor, currency: order.currency };
  // An order bought on the web (buy-now) has no post to answer under: the e-mail says it.
  if (order.postId !== '')
    out.reply(order.network, order.postId, replies.refunded(title, total), order.handle);
  const shopper = state.shoppers.get(key);
  if (shopper)
    out.email(shopper.email, { subject: `Refund: ${title}`, text: replies.refunded(title, total) });
  out.webhook(merchant, 'order.refunded', orderView(order));
}

function createMerchant(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'merchant.create' }>,
): void {
  const key = handleKey(cmd.network, cmd.handle);
  if (state.merchantByHandle.has(key)) {
    return fail(
      out,
      'MERCHANT_EXISTS',
      `A merchant already uses @${cmd.handle} on ${cmd.network}.`,
      'handle',
    );
  }
  const lookalike = lookalikeProblem(state, { handle: cmd.handle, merchantId: null }, out.entry.at);
  if (lookalike !== null) return fail(out, lookalike.code, lookalike.message, lookalike.param);
  const merchant: Merchant = {
    id: newId('mer', out.ctx.random),
    network: cmd.network,
    handle: cmd.handle,
    alsoOn: [],
    name: cmd.name,
    webhookUrl: cmd.webhookUrl,
    webhookSecret: cmd.webhookSecret,
    feeBps: cmd.feeBps,
    createdAt: out.entry.at,
    verified: false,
    webhookSecretPrevious: null,
    webhookPreviousUntil: null,
  };
  state.merchants.set(merchant.id, merchant);
  state.merchantByHandle.set(key, merchant);
  out.fx.merchants.add(merchant);
  out.fx.apiKeys.push({ hash: cmd.keyHash, merchantId: merchant.id, at: out.entry.at });
  audit(out.fx, out.entry.at, 'api_key.created', actorOf(out), keyIdOf(cmd.keyHash), {
    merchant_id: merchant.id,
    scopes: ['read', 'write'],
  });
  ok(out, 201, merchantView(merchant));
}

/** True when the offer still holds its hashtag: not ended by status or by its end time. */
export function holdsTag(offer: Offer, at: number): boolean {
  return offer.status !== 'ended' && (offer.endsAt === null || at < offer.endsAt);
}

function createOffer(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'offer.create' }>,
): void {
  const at = out.entry.at;
  const merchant = state.merchants.get(cmd.merchantId);
  if (merchant === undefined)
    return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
  const tag = cmd.hashtag.toLowerCase();
  if (RESERVED_HASHTAGS.has(tag) || looksLikeCode(tag)) {
    return fail(
      out,
      'INVALID_HASHTAG',
      `#${cmd.hashtag} is reserved by tagpay; choose another.`,
      'hashtag',
    );
  }
  if (cmd.endsAt !== null && cmd.endsAt <= Math.max(at, cmd.startsAt ?? at)) {
    return fail(
      out,
      'INVALID_REQUEST',
      'ends_at must be in the future and after starts_at.',
      'ends_at',
    );
  }
  const holder = state.offerByTag.get(tag);
  if ((holder !== undefined && holdsTag(holder, at)) || cardOfferHoldsTag(state, tag, at)) {
    return fail(
      out,
      'HASHTAG_TAKEN',
      `#${cmd.hashtag} is already used by a live offer.`,
      'hashtag',
    );
  }
  // Look-alikes of a live offer's hashtag, or of another merchant's handle, are refused.
  const lookalike = lookalikeProblem(
    state,
    { hashtag: cmd.hashtag, merchantId: merchant.id, handles: handlesOf(merchant) },
    at,
  );
  if (lookalike !== null) return fail(out, lookalike.code, lookalike.message, lookalike.param);
  const offer: Offer = {
    id: newId('ofr', out.ctx.random),
    merchantId: merchant.id,
    title: cmd.title,
    priceMinor: BigInt(cmd.priceMinor),
    currency: cmd.currency,
    quantity: cmd.quantity,
    available: cmd.quantity,
    sold: 0,
    variants: cmd.variants,
    perBuyerMax: cmd.perBuyerMax,
    hashtag: cmd.hashtag,
    windowMs: cmd.windowMs,
    startsAt: cmd.startsAt ?? at,
    endsAt: cmd.endsAt,
    status: cmd.publish ? 'live' : 'paused',
    publishedAt: null,
    createdAt: at,
    hashtagPosts: 0,
  };
  state.offers.set(offer.id, offer);
  state.offerByTag.set(tag, offer);
  out.fx.offers.add(offer);
  if (cmd.publish) publish(out, merchant, offer);
  ok(out, 201, offerView(offer));
}

/** Every handle of a merchant, its first one first. */
export function handlesOf(merchant: Merchant): { network: string; handle: string }[] {
  return [{ network: merchant.network, handle: merchant.handle }, ...merchant.alsoOn];
}

/** Posts an offer once on every network the merchant has a handle on. */
function publish(out: Out, merchant: Merchant, offer: Offer): void {
  offer.publishedAt = out.entry.at;
  const price = { minor: offer.priceMinor, currency: offer.currency };
  let text = replies.offerPost(
    offer.title,
    price,
    offer.hashtag,
    offer.variants,
    merchant.verified,
  );
  if (out.ctx.buyLink !== undefined) {
    // The buy-now (ticket) button: a signed link that expires with the offer, or after BUY_LINK_TTL_MS.
    const link = out.ctx.buyLink(offer.id, offer.endsAt ?? out.entry.at + BUY_LINK_TTL_MS);
    text += ' ' + checkoutReplies.buyNow(link);
  }
  for (const { network, handle } of handlesOf(merchant)) {
    if (network === 'local') {
      out.post('local', handle, text, offer.id);
      continue;
    }
    // On an outside network tagpay holds no merchant's credentials: the offer goes out from
    // tagpay's own account there, naming the merchant.
    out.post(
      network,
      out.ctx.botHandle(network),
      `${merchant.name} (@${handle}): ${text}`,
      offer.id,
    );
  }
}

function addMerchantHandle(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'merchant.add_handle' }>,
): void {
  const merchant = state.merchants.get(cmd.merchantId);
  if (merchant === undefined) return fail(out, 'NOT_FOUND', `No merchant ${cmd.merchantId}.`, 'id');
  const key = handleKey(cmd.network, cmd.handle);
  const holder = state.merchantByHandle.get(key);
  if (holder !== undefined && holder !== merchant) {
    return fail(
      out,
      'MERCHANT_EXISTS',
      `Another merchant uses @${cmd.handle} on ${cmd.network}.`,
      'handle',
    );
  }
  if (holder === undefined) {
    merchant.alsoOn.push({ network: cmd.network, handle: cmd.handle });
    state.merchantByHandle.set(key, merchant);
    out.fx.merchants.add(merchant);
  }
  ok(out, 200, merchantView(merchant));
}

function setOfferStatus(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'offer.set_status' }>,
): void {
  const offer = state.offers.get(cmd.offerId);
  // Another merchant's offer is reported as missing, never as forbidden: ids do not leak across tenants.
  if (offer === undefined || offer.merchantId !== cmd.merchantId) {
    return fail(out, 'NOT_FOUND', `No offer ${cmd.offerId}.`, 'id');
  }
  if (offer.status === 'ended')
    return fail(out, 'INVALID_REQUEST', 'An ended offer cannot change status.', 'status');
  offer.status = cmd.status;
  if (cmd.status === 'ended') {
    if (state.offerByTag.get(offer.hashtag.toLowerCase()) === offer)
      state.offerByTag.delete(offer.hashtag.toLowerCase());
  }
  if (cmd.status === 'live' && offer.publishedAt === null)
    publish(out, state.merchants.get(offer.merchantId)!, offer);
  out.fx.offers.add(offer);
  if (cmd.status === 'live') serveWaitlist(state, out, offer);
  ok(out, 200, offerView(offer));
}

function linkShopper(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'shopper.link' }>,
): void {
  const at = out.entry.at;
  const key = handleKey(cmd.network, cmd.account);
  const existing = state.shoppers.get(key);
  // Re-linked through any of its handles, a shopper keeps its id and first handle: only what the
  // form holds (e-mail, address, card, limits) changes, and the handle's shown form when it is the first.
  const first =
    existing === undefined ||
    (existing.network === cmd.network && existing.account === cmd.account);
  const shopper: Shopper = {
    id: existing?.id ?? newId('shp', out.ctx.random),
    network: existing?.network ?? cmd.network,
    account: existing?.account ?? cmd.account,
    handle: first ? cmd.handle : existing.handle,
    alsoOn: existing?.alsoOn ?? [],
    email: cmd.email,
    shippingAddress: cmd.shippingAddress,
    cardToken: cmd.cardToken,
    cardBrand: cmd.cardBrand,
    cardLast4: cmd.cardLast4,
    purchaseLimitMinor: cmd.purchaseLimitMinor === null ? null : BigInt(cmd.purchaseLimitMinor),
    dailyLimitMinor: cmd.dailyLimitMinor === null ? null : BigInt(cmd.dailyLimitMinor),
    limitCurrency: cmd.limitCurrency,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
  for (const h of shopperHandles(shopper))
    state.shoppers.set(handleKey(h.network, h.account), shopper);
  state.shopperById.set(shopper.id, shopper);
  // A second link of the same shopper in one batch replaces the first's row, never writes it twice.
  if (existing !== undefined) out.fx.shoppers.delete(existing);
  out.fx.shoppers.add(shopper);
  onLinked(state, out, cmd, existing, shopper);
  onShopperLinked(state, out, shopper);
  ok(out, existing ? 200 : 201, shopperView(shopper));
  for (const h of shopperHandles(shopper))
    serveSignups(state, out, handleKey(h.network, h.account), shopper);
}

/**
 * Adds a proven handle to a shopper: posts from it are the shopper's from now on. A handle already
 * linked to another shopper is refused (that shopper must let it go first); a repeat changes nothing.
 */
function addShopperHandle(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'shopper.add_handle' }>,
): void {
  const shopper = state.shopperById.get(cmd.shopperId);
  if (shopper === undefined) return fail(out, 'NOT_FOUND', `No shopper ${cmd.shopperId}.`, 'id');
  const key = handleKey(cmd.network, cmd.account);
  const holder = state.shoppers.get(key);
  if (holder !== undefined && holder !== shopper) {
    return fail(
      out,
      'HANDLE_LINKED',
      `${cmd.handle} on ${cmd.network} is linked to another shopper.`,
      'handle',
    );
  }
  if (holder === undefined) {
    const handle = {
      network: cmd.network,
      account: cmd.account,
      handle: cmd.handle,
      addedAt: out.entry.at,
    };
    shopper.alsoOn.push(handle);
    state.shoppers.set(key, shopper);
    out.fx.shopperHandles.push({ shopperId: shopper.id, handle });
    onShopperLinked(state, out, shopper);
    serveSignups(state, out, key, shopper);
  }
  ok(out, 200, shopperView(shopper));
}

/** Checkouts of a handle that waited for its sign-up get their code now, if still in their window. */
function serveSignups(state: State, out: Out, key: string, shopper: Shopper): void {
  const at = out.entry.at;
  for (const order of pendingOf(state, key)) {
    if (order.status !== 'awaiting_signup' || order.expiresAt < at) continue;
    const offer = state.offers.get(order.offerId)!;
    const spentBefore =
      (state.spent.get(spentKey(key, order.currency, order.createdAt)) ?? 0n) - order.amountMinor;
    const limits = limitsOf(shopper, order.currency);
    if (order.amountMinor > limits.perPurchase || spentBefore + order.amountMinor > limits.perDay) {
      settle(state, out, order, 'failed', 'over_limit');
      const reason =
        order.amountMinor > limits.perPurchase ? 'over_purchase_limit' : 'over_daily_limit';
      const limit = reason === 'over_purchase_limit' ? limits.perPurchase : limits.perDay;
      out.reply(
        order.network,
        order.postId,
        replies.refused(
          offer.title,
          reason,
          formatMoney({ minor: limit, currency: order.currency }),
        ),
        order.handle,
      );
      continue;
    }
    const check = checkSpend(state, out.ctx.safety, {
      key,
      shopper,
      amountMinor: order.amountMinor,
      currency: order.currency,
      at,
    });
    if (!check.ok) {
      settle(state, out, order, 'failed', check.reason);
      out.reply(
        order.network,
        order.postId,
        replies.refused(offer.title, check.reason, check.detail),
      );
      continue;
    }
    noteCheckout(state, key, shopper, at);
    if (check.stepUp.length > 0) {
      const merchant = state.merchants.get(order.merchantId)!;
      askStepUp(
        out,
        order,
        offer,
        shopper,
        check.stepUp,
        titleOf(offer, order),
        '',
        unverifiedNote(merchant),
      );
    } else issueCode(state, out, order, offer, shopper, '');
  }
}
