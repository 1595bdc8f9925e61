import { readPayCommand, type PayParse } from '../../core/amount.ts';
import { hashCode, looksLikeCode, newCode, newId } from '../../core/codes.ts';
import { errorBody, ERROR_STATUS, type ErrorCode } from '../../core/errors.ts';
import { newGiftCode, hashGiftCode, normalizeGiftCode } from '../../core/gift-codes.ts';
import {
  accounts,
  holdTransfer,
  resolveTransfer,
  type Hold,
  type Posting,
  type Transfer,
} from '../../core/ledger.ts';
import {
  CLAIM_PERIOD_MS_DEFAULT,
  CONFIRM_WINDOW_MS_DEFAULT,
  DAY_MS,
  PAY_CONFIRM_ABOVE_MAJOR,
  PAY_DAILY_LIMIT_MAJOR,
  PAY_WEEKLY_LIMIT_MAJOR,
  POST_TEXT_CHARS_MAX,
  REQUEST_WINDOW_MS,
  WEEK_DAYS,
} from '../../core/limits.ts';
import { formatMoney, minorPerMajor, type Money } from '../../core/money.ts';
import { readHashtags } from '../../core/post-grammar.ts';
import {
  moneyEmails,
  moneyReplies,
  replies,
  type DeclineReason,
  type PayRefusalReason,
  type StepUpReason,
} from '../../core/replies.ts';
import type { ApiCommand, ChargeResultEvent, PostEvent } from '../events.ts';
import {
  handleKey,
  rememberRetired,
  shopperHandles,
  type Merchant,
  type Order,
  type Shopper,
  type State,
} from '../state.ts';
import type { CardCreditResultEvent, MoneyCommand } from './money-events.ts';
import type { GiftCard, Payment, ShopperSettings, WalletOp } from './money-state.ts';
import {
  accountBlocked,
  checkSpend,
  noteCardSpend,
  noteCheckout,
  notMeLink,
  type SafetyConfig,
  sendStepUp,
  type StepUpSubject,
} from './safety.ts';

/**
 * Money to a handle, wallets and gift cards (DESIGN.md flows 3 and 7): pure decisions over the
 * engine's state, as decide.ts makes them, reached from decide.ts by one dispatch line each.
 *
 * A payment is funded from the payer's wallet first, then the card: the wallet part is reserved by a
 * hold while the card is charged, and the card part lands in the wallet (a top-up) before the payment
 * moves on. A linked recipient is credited at once; for one who has not linked, the money is held
 * (a pending transfer) until they link within the claim period, or goes back to the payer's wallet.
 */

/** What the flows need of decide.ts's emitter (its class Out). */
export interface MoneyOut {
  readonly entry: { key: string; at: number; seq: bigint };
  readonly fx: import('../state.ts').Effects;
  readonly ctx: {
    random: (count: number) => Uint8Array;
    publicUrl: string;
    botHandle: (network: string) => string;
    claimPeriodMs?: number;
    defaultCurrency?: string;
    /** The fraud controls (safety.ts): payments pass the same check as purchases. */
    safety: SafetyConfig;
  };
  reply(network: string, replyTo: string | null, text: string): void;
  email(to: string, message: { subject: string; text: string }): void;
  direct(network: string, text: string): void;
}

/** Visibility of a user who chose nothing: a reply on the network (Venmo's default). */
export const VISIBILITY_DEFAULT = 'public';
/** Networks where tagpay can send a direct message (Mastodon's `visibility: direct`). */
export const DM_NETWORKS: ReadonlySet<string> = new Set(['mastodon']);
const DEFAULT_CURRENCY = 'USD';
/** The charge id of an order paid from the wallet alone (no card charge). */
export const WALLET_CHARGE_ID = 'wallet';

const claimPeriodOf = (out: MoneyOut) => out.ctx.claimPeriodMs ?? CLAIM_PERIOD_MS_DEFAULT;
const claimDays = (out: MoneyOut) => Math.max(1, Math.round(claimPeriodOf(out) / DAY_MS));
const confirmMinutes = () => Math.round(CONFIRM_WINDOW_MS_DEFAULT / 60_000);

// ---------------------------------------------------------------------------------------------
// Shoppers, settings and balances

export function defaultCurrencyOf(state: State, out: MoneyOut, shopper: Shopper): string {
  return (
    state.money.settings.get(shopper.id)?.defaultCurrency ??
    shopper.limitCurrency ??
    out.ctx.defaultCurrency ??
    DEFAULT_CURRENCY
  );
}

function visibilityOf(state: State, shopper: Shopper | null): 'public' | 'private' {
  // Someone who has not linked chose nothing: their amounts are not shown in public.
  if (shopper === null) return 'private';
  return state.money.settings.get(shopper.id)?.visibility ?? VISIBILITY_DEFAULT;
}

/** The more private choice of the two wins (Venmo's rule). */
function bothPublic(state: State, a: Shopper | null, b: Shopper | null): boolean {
  return visibilityOf(state, a) === 'public' && visibilityOf(state, b) === 'public';
}

export function walletBalance(state: State, shopperId: string, currency: string): bigint {
  return state.balances.get(accounts.wallet(shopperId), currency);
}

/**
 * Keeps the index of shoppers by each handle they post from; claims waiting for any of these handles
 * are paid into the shopper's wallet (the claim: linking, or adding the handle, within the period).
 */
export function onShopperLinked(state: State, out: MoneyOut, shopper: Shopper): void {
  const m = state.money;
  m.indexShopper(shopper, shopperHandles(shopper));
  for (const h of shopperHandles(shopper)) {
    // Money may have been sent to the shown handle or to the account (`bob@server` on Mastodon).
    for (const key of new Set([`${h.network}:${h.handle}`, `${h.network}:${h.account}`])) {
      const waiting = m.claims.get(key);
      if (waiting === undefined) continue;
      m.claims.delete(key);
      for (const p of waiting) claim(state, out, p, shopper);
    }
  }
}

function claim(state: State, out: MoneyOut, p: Payment, shopper: Shopper): void {
  if (p.status !== 'pending_claim') return;
  if (out.entry.at >= p.expiresAt) return; // its tick is due: it goes back to the payer
  if (p.payerId === shopper.id) {
    // Someone paid a handle that turned out to be their own: the hold goes back to them.
    voidHold(state, out, p.holdId!);
    p.holdId = null;
    endPayment(state, out, p, 'returned', 'self_payment');
    return;
  }
  postHold(state, out, p.holdId!, accounts.wallet(shopper.id));
  p.holdId = null;
  p.recipientId = shopper.id;
  complete(state, out, p);
  const payer = state.shopperById.get(p.payerId);
  if (payer)
    tell(state, out, payer, 'Claimed', moneyReplies.claimed(moneyOf(p), p.recipientHandle));
}

// ---------------------------------------------------------------------------------------------
// Ledger helpers

function transfer(state: State, out: MoneyOut, ref: string, postings: Posting[]): Transfer {
  const t: Transfer = { id: newId('trf', out.ctx.random), ref, at: out.entry.at, postings };
  state.balances.apply(t);
  out.fx.transfers.push(t);
  return t;
}

function openHold(
  state: State,
  out: MoneyOut,
  ref: string,
  debit: string,
  money: Money,
  expiresAt: number | null,
): Hold {
  const hold: Hold = {
    id: newId('hld', out.ctx.random),
    ref,
    debit,
    minor: money.minor,
    currency: money.currency,
    at: out.entry.at,
    expiresAt,
  };
  const t = holdTransfer(hold, newId('trf', out.ctx.random));
  state.balances.apply(t);
  out.fx.transfers.push(t);
  state.money.holds.set(hold.id, hold);
  out.fx.money.holds.push({ hold, transferId: t.id });
  return hold;
}

function endHold(
  state: State,
  out: MoneyOut,
  holdId: string,
  kind: 'post' | 'void',
  credit: string,
) {
  const hold = state.money.holds.get(holdId);
  if (hold === undefined) throw new Error(`engine: hold ${holdId} is not pending`);
  state.money.holds.delete(holdId);
  const t = resolveTransfer(hold, kind, credit, newId('trf', out.ctx.random), out.entry.at);
  state.balances.apply(t);
  out.fx.transfers.push(t);
  out.fx.money.resolutions.push({
    holdId,
    kind,
    credit: t.postings[0]!.to,
    transferId: t.id,
    at: out.entry.at,
  });
}

const postHold = (state: State, out: MoneyOut, holdId: string, credit: string) =>
  endHold(state, out, holdId, 'post', credit);
const voidHold = (state: State, out: MoneyOut, holdId: string) =>
  endHold(state, out, holdId, 'void', '');

// ---------------------------------------------------------------------------------------------
// Messages

const moneyOf = (p: Payment): Money => ({ minor: p.amountMinor, currency: p.currency });

/** A private message to one linked person: e-mail, and a direct message where the network has one. */
function tell(state: State, out: MoneyOut, to: Shopper, subject: string, text: string): void {
  out.email(to.email, moneyEmails.notice(subject, text));
  dm(out, to, text);
}

/** A direct message where the shopper's network has them; its mention names the account. */
function dm(out: MoneyOut, to: Shopper, text: string): void {
  if (!DM_NETWORKS.has(to.network)) return;
  // Every handle a direct message mentions can read it: other handles in the text are written with
  // a word joiner after `@`, so they show but do not mention.
  const quiet = text.replace(/@(?=[A-Za-z0-9_])/g, '@\u2060');
  out.direct(to.network, `@${to.account} ${quiet}`);
}

/** The linked shopper a handle on a network names: by shown handle, or by account (`bob@server`). */
function shopperNamed(state: State, network: string, handle: string): Shopper | null {
  return (
    state.money.shopperByHandle.get(`${network}:${handle}`) ??
    state.shoppers.get(handleKey(network, handle)) ??
    null
  );
}

function replyTo(out: MoneyOut, p: Payment, text: string): void {
  if (p.postId !== null) out.reply(p.network, p.postId, text);
}

// ---------------------------------------------------------------------------------------------
// Posts

/**
 * Handles a post if it is about money: `#pay`, `#request`, or the code of a payment. Returns false
 * for every other post, which then goes to the checkout flow. Cheap for posts without `#`.
 */
export function moneyPost(state: State, out: MoneyOut, post: PostEvent, author: string): boolean {
  if (!post.text.includes('#') || post.text.length > POST_TEXT_CHARS_MAX) return false;
  if (author === out.ctx.botHandle(post.network)) return false;
  const tags = readHashtags(post.text).tags;
  const m = state.money;
  if (m.paymentByCode.size > 0) {
    for (const tag of tags) {
      if (!looksLikeCode(tag)) continue;
      const p = m.paymentByCode.get(hashCode(tag));
      if (p === undefined) continue;
      const payer = state.shoppers.get(handleKey(post.network, author));
      // A code posted by anyone but the payer does nothing (the checkout flow counts it as wrong).
      if (payer === undefined || payer.id !== p.payerId) return false;
      if (
        (state.wrongCodes.get(handleKey(post.network, author))?.pausedUntil ?? 0) > out.entry.at
      ) {
        out.reply(post.network, post.postId, replies.codesPaused());
        return true;
      }
      const confirmed = confirmPayment(state, out, p, post);
      if (!confirmed.ok)
        out.reply(
          post.network,
          post.postId,
          moneyReplies.refused(confirmed.reason, confirmed.detail),
        );
      return true;
    }
  }
  const kind = tags.includes('pay') ? 'pay' : tags.includes('request') ? 'request' : null;
  if (kind === null) return false;
  const shopper = state.shoppers.get(handleKey(post.network, author)) ?? null;
  if (shopper === null) {
    const link = `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(post.network)}&handle=${encodeURIComponent(author)}`;
    out.reply(post.network, post.postId, moneyReplies.refused('not_linked', link));
    return true;
  }
  const parsed = readPayCommand(
    post.text,
    kind,
    defaultCurrencyOf(state, out, shopper),
    post.network,
  );
  const started = startPayment(state, out, shopper, parsed, post.network, post.postId);
  if (!started.ok)
    out.reply(
      post.network,
      post.postId,
      moneyReplies.refused(started.reason, started.detail, started.link),
    );
  return true;
}

type Refused = { ok: false; reason: PayRefusalReason; detail: string; link?: string };
type Started = { ok: true; payment: Payment } | Refused;

/** The fraud controls' refusals, which a payment says in its own words (replies.ts). */
const SAFETY_REFUSALS: ReadonlySet<string> = new Set<PayRefusalReason>([
  'frozen',
  'cool_down',
  'velocity_handle',
  'velocity_card',
  'card_daily_limit',
]);

/**
 * The fraud controls' one spending check (safety.ts's checkSpend, the one purchases pass) for a
 * payer about to send `money`: refused, or go on (counted toward the velocity limits), maybe with
 * a step-up. The card's daily amount is checked against what the wallet does not cover.
 */
function spendCheck(
  state: State,
  out: MoneyOut,
  payer: Shopper,
  money: Money,
): Refused | { ok: true; stepUp: StepUpReason[] } {
  const key = handleKey(payer.network, payer.account);
  const wallet = walletBalance(state, payer.id, money.currency);
  const check = checkSpend(state, out.ctx.safety, {
    key,
    shopper: payer,
    amountMinor: money.minor,
    cardMinor: wallet >= money.minor ? 0n : money.minor - wallet,
    currency: money.currency,
    at: out.entry.at,
  });
  if (!check.ok) return safetyRefusal(check);
  noteCheckout(state, key, payer, out.entry.at);
  return check;
}

function safetyRefusal(refused: { reason: string; detail: string }): Refused {
  if (!SAFETY_REFUSALS.has(refused.reason))
    throw new Error(`engine: unexpected spending refusal ${refused.reason}`);
  return { ok: false, reason: refused.reason as PayRefusalReason, detail: refused.detail };
}

/** Starts a `#pay` or a `#request` from a linked shopper: checks, then a code or the money. */
function startPayment(
  state: State,
  out: MoneyOut,
  shopper: Shopper,
  parsed: PayParse,
  network: string,
  postId: string | null,
): Started {
  if (!parsed.ok) return { ok: false, reason: parsed.reason, detail: parsed.text };
  const at = out.entry.at;
  const other = shopperNamed(state, network, parsed.counterparty);
  if (other?.id === shopper.id || parsed.counterparty === shopper.handle)
    return { ok: false, reason: 'self_payment', detail: '' };
  // For a request, the other party pays: they must have linked a card. tagpay does not hold a
  // request for someone who has not signed up (a design choice: the requester is told, with the
  // sign-up link to pass on, and asks again once they have linked).
  const payer = parsed.kind === 'pay' ? shopper : other;
  if (payer === null)
    return {
      ok: false,
      reason: 'payer_not_linked',
      detail: parsed.counterparty,
      link: signupLink(out, network, parsed.counterparty),
    };
  const recipient = parsed.kind === 'pay' ? other : shopper;
  const money = parsed.money;
  const over = overLimit(state, payer.id, money, at);
  if (over !== null) return { ok: false, ...over };
  // A #pay spends its author's money now; a #request spends the payer's when they confirm it.
  let stepUp: StepUpReason[] = [];
  if (parsed.kind === 'pay') {
    const check = spendCheck(state, out, payer, money);
    if (!check.ok) return check;
    stepUp = check.stepUp;
  }
  const p: Payment = {
    id: newId('hpm', out.ctx.random),
    kind: parsed.kind,
    payerId: payer.id,
    payerNetwork: payer.network,
    payerHandle: payer.handle,
    recipientNetwork: network,
    recipientHandle: recipient?.handle ?? parsed.counterparty,
    recipientId: recipient?.id ?? null,
    amountMinor: money.minor,
    currency: money.currency,
    memo: parsed.memo,
    status: 'awaiting_confirmation',
    codeHash: null,
    expiresAt: at,
    walletMinor: 0n,
    cardMinor: 0n,
    holdId: null,
    chargeId: null,
    network,
    postId,
    failure: null,
    createdAt: at,
    updatedAt: at,
  };
  countSent(state, p, 1n);
  state.money.payments.set(p.id, p);
  out.fx.money.payments.add(p);
  const recipientKey = recipient?.id ?? `${network}:${p.recipientHandle}`;
  const needsCode =
    p.kind === 'request' ||
    money.minor > PAY_CONFIRM_ABOVE_MAJOR * minorPerMajor(money.currency) ||
    !state.money.pairs.has(`${payer.id}|${recipientKey}`);
  if (stepUp.length > 0)
    askPaymentStepUp(state, out, p, payer, stepUp, postId === null ? null : { network, postId });
  else if (needsCode) issuePaymentCode(state, out, p, payer, recipient);
  else execute(state, out, p);
  return { ok: true, payment: p };
}

function signupLink(out: MoneyOut, network: string, handle: string): string {
  return `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(network)}&handle=${encodeURIComponent(handle)}`;
}

/**
 * Puts a payment on hold for the payer's approval by an e-mailed link, as askStepUp (safety.ts)
 * does a purchase: the approval replaces the confirmation code, and the payment expires with the
 * confirmation window. The public answer carries the amount only if both sides chose public.
 */
function askPaymentStepUp(
  state: State,
  out: MoneyOut,
  p: Payment,
  payer: Shopper,
  reasons: StepUpReason[],
  answer: { network: string; postId: string } | null,
): void {
  const at = out.entry.at;
  p.status = 'awaiting_step_up';
  p.expiresAt = at + CONFIRM_WINDOW_MS_DEFAULT;
  p.updatedAt = at;
  state.money.deadlines.push(p.expiresAt, p.id);
  out.fx.money.payments.add(p);
  const recipient =
    (p.recipientId !== null ? state.shopperById.get(p.recipientId) : undefined) ??
    shopperNamed(state, p.recipientNetwork, p.recipientHandle);
  const money = moneyOf(p);
  const open = bothPublic(state, payer, recipient);
  if (answer !== null)
    out.reply(
      answer.network,
      answer.postId,
      moneyReplies.payStepUp(open ? money : null, p.recipientHandle, confirmMinutes()),
    );
  if (!open) dm(out, payer, moneyReplies.payStepUp(money, p.recipientHandle, confirmMinutes()));
  sendStepUp(out, p.id, payer, reasons, money, (approve, notMe) =>
    moneyEmails.stepUp(money, p.recipientHandle, confirmMinutes(), reasons, approve, notMe),
  );
}

/**
 * A payment waiting for a step-up, for the approval of its e-mailed link (safety.ts's
 * step_up.approve): approving sends it, wallet first, then the card.
 */
export function paymentStepUpSubject(
  state: State,
  out: MoneyOut,
  id: string,
): StepUpSubject | null {
  const p = state.money.payments.get(id);
  if (p === undefined || p.status !== 'awaiting_step_up') return null;
  return {
    what: 'payment',
    shopper: state.shopperById.get(p.payerId),
    expiresAt: p.expiresAt,
    approve: () => {
      p.updatedAt = out.entry.at;
      execute(state, out, p);
      return null;
    },
  };
}

/**
 * Ends the payments of a shopper that still wait for a code or an approval: their own `#pay`s, the
 * requests they were asked to pay, and their own requests (`#cancel`, or a freeze). For `#cancel`
 * the other side of a request is told. Answers what was ended.
 */
export function cancelPaymentsOf(
  state: State,
  out: MoneyOut,
  shopper: Shopper,
  failure: 'frozen' | null,
): Payment[] {
  const m = state.money;
  if (m.payments.size === 0) return [];
  const ended: Payment[] = [];
  for (const p of [...m.payments.values()]) {
    if (p.status !== 'awaiting_confirmation' && p.status !== 'awaiting_step_up') continue;
    const asPayer = p.payerId === shopper.id;
    if (!asPayer && !(p.kind === 'request' && p.recipientId === shopper.id)) continue;
    retirePaymentCode(state, out, p, 'canceled');
    endPayment(state, out, p, 'canceled', failure);
    ended.push(p);
    if (p.kind !== 'request' || failure !== null) continue;
    const other = state.shopperById.get(asPayer ? p.recipientId! : p.payerId);
    if (other === undefined) continue;
    if (asPayer)
      tell(state, out, other, 'Request declined', moneyReplies.requestDeclined(shopper.handle));
    else
      tell(
        state,
        out,
        other,
        'Request withdrawn',
        moneyReplies.requestWithdrawn(shopper.handle, moneyOf(p)),
      );
  }
  return ended;
}

/** What `#cancel` says of the payments it ended, without amounts (the reply is public). */
export function canceledPaymentsText(shopper: Shopper, ended: readonly Payment[]): string {
  return moneyReplies.canceledPayments(
    ended.map((p) =>
      p.kind === 'pay'
        ? `your payment to @${p.recipientHandle}`
        : p.payerId === shopper.id
          ? `the request from @${p.recipientHandle}`
          : `your request to @${p.payerHandle}`,
    ),
  );
}

function issuePaymentCode(
  state: State,
  out: MoneyOut,
  p: Payment,
  payer: Shopper,
  recipient: Shopper | null,
): void {
  const code = newCode(out.ctx.random);
  p.codeHash = hashCode(code);
  const windowMs = p.kind === 'request' ? REQUEST_WINDOW_MS : CONFIRM_WINDOW_MS_DEFAULT;
  p.expiresAt = out.entry.at + windowMs;
  state.money.paymentByCode.set(p.codeHash, p);
  state.money.deadlines.push(p.expiresAt, p.id);
  const money = moneyOf(p);
  const open = bothPublic(state, payer, recipient);
  if (p.kind === 'pay') {
    out.email(
      payer.email,
      moneyEmails.payCode(
        money,
        p.recipientHandle,
        code,
        confirmMinutes(),
        notMeLink(out, payer.id),
      ),
    );
    if (open)
      replyTo(out, p, moneyReplies.payCode(money, p.recipientHandle, code, confirmMinutes()));
    else {
      dm(out, payer, moneyReplies.payCode(money, p.recipientHandle, code, confirmMinutes()));
      replyTo(out, p, moneyReplies.payCodePrivate(p.recipientHandle, code, confirmMinutes()));
    }
    return;
  }
  const hours = Math.round(REQUEST_WINDOW_MS / 3_600_000);
  const from = p.recipientHandle;
  out.email(
    payer.email,
    moneyEmails.requestCode(money, from, p.memo, code, hours, notMeLink(out, payer.id)),
  );
  if (open) {
    replyTo(
      out,
      p,
      `@${payer.handle}, ${moneyReplies.requestCode(money, from, p.memo, code, hours)}`,
    );
  } else {
    dm(out, payer, moneyReplies.requestCode(money, from, p.memo, code, hours));
    replyTo(out, p, `@${payer.handle}, ${moneyReplies.requestCodePrivate(from, code, hours)}`);
  }
}

/** Sums of money sent by a payer, by UTC day. */
function sentKey(payerId: string, currency: string, day: number): string {
  return `${payerId}|${currency}|${day}`;
}

function countSent(state: State, p: Payment, sign: 1n | -1n): void {
  const key = sentKey(p.payerId, p.currency, Math.floor(p.createdAt / DAY_MS));
  const total = (state.money.sent.get(key) ?? 0n) + sign * p.amountMinor;
  if (total > 0n) state.money.sent.set(key, total);
  else state.money.sent.delete(key);
}

function overLimit(
  state: State,
  payerId: string,
  money: Money,
  at: number,
): { reason: PayRefusalReason; detail: string } | null {
  const unit = minorPerMajor(money.currency);
  const day = Math.floor(at / DAY_MS);
  const today = state.money.sent.get(sentKey(payerId, money.currency, day)) ?? 0n;
  const daily = PAY_DAILY_LIMIT_MAJOR * unit;
  if (today + money.minor > daily)
    return {
      reason: 'over_daily_limit',
      detail: formatMoney({ minor: daily, currency: money.currency }),
    };
  let week = 0n;
  for (let d = day - WEEK_DAYS + 1; d <= day; d++)
    week += state.money.sent.get(sentKey(payerId, money.currency, d)) ?? 0n;
  const weekly = PAY_WEEKLY_LIMIT_MAJOR * unit;
  if (week + money.minor > weekly)
    return {
      reason: 'over_weekly_limit',
      detail: formatMoney({ minor: weekly, currency: money.currency }),
    };
  return null;
}

function retirePaymentCode(
  state: State,
  out: MoneyOut,
  p: Payment,
  reason: 'used' | 'expired' | 'canceled',
): void {
  if (p.codeHash === null || state.money.paymentByCode.get(p.codeHash) !== p) return;
  state.money.paymentByCode.delete(p.codeHash);
  const payer = state.shopperById.get(p.payerId);
  // A late or repeated code gets an answer ("already used", "canceled"), as a checkout's does.
  if (payer !== undefined)
    rememberRetired(state, p.codeHash, {
      handleKey: handleKey(payer.network, payer.account),
      reason,
      at: out.entry.at,
    });
}

/**
 * The payer's code: the payment goes on. Paying a `#request` is when the payer's money moves, so
 * it passes the fraud controls' check here (a `#pay` passed it when it was posted): refused, the
 * payment fails and the refusal is answered; asked for a step-up, it waits for the e-mailed link.
 */
function confirmPayment(
  state: State,
  out: MoneyOut,
  p: Payment,
  post: PostEvent | null,
): { ok: true } | Refused {
  if (p.status !== 'awaiting_confirmation') return { ok: true };
  if (out.entry.at >= p.expiresAt) {
    expirePayment(state, out, p);
    return { ok: true };
  }
  p.updatedAt = out.entry.at;
  retirePaymentCode(state, out, p, 'used');
  if (p.kind === 'request') {
    const payer = state.shopperById.get(p.payerId)!;
    const check = spendCheck(state, out, payer, moneyOf(p));
    if (!check.ok) {
      endPayment(state, out, p, 'failed', check.reason);
      return check;
    }
    if (check.stepUp.length > 0) {
      askPaymentStepUp(state, out, p, payer, check.stepUp, post);
      return { ok: true };
    }
  }
  execute(state, out, p);
  return { ok: true };
}

/** Funds a confirmed payment: wallet first; if that is short, the card is charged for the rest. */
function execute(state: State, out: MoneyOut, p: Payment): void {
  const payer = state.shopperById.get(p.payerId)!;
  const available = walletBalance(state, p.payerId, p.currency);
  const fromWallet = available < p.amountMinor ? available : p.amountMinor;
  p.walletMinor = fromWallet;
  p.cardMinor = p.amountMinor - fromWallet;
  p.updatedAt = out.entry.at;
  out.fx.money.payments.add(p);
  if (p.cardMinor === 0n) return fund(state, out, p);
  if (fromWallet > 0n) {
    const hold = openHold(
      state,
      out,
      p.id,
      accounts.wallet(p.payerId),
      { minor: fromWallet, currency: p.currency },
      null,
    );
    p.holdId = hold.id;
  }
  p.status = 'charging';
  noteCardSpend(state, payer, p.currency, p.createdAt, p.cardMinor);
  out.fx.outbox.push({
    key: `charge:${p.id}`,
    kind: 'charge',
    body: {
      order_id: p.id,
      card_token: payer.cardToken,
      amount: p.cardMinor.toString(),
      currency: p.currency,
      description: `tagpay payment to @${p.recipientHandle} (${p.id})`,
    },
  });
}

/** The payer's wallet holds the whole amount now: credit the recipient, or hold it for their claim. */
function fund(state: State, out: MoneyOut, p: Payment): void {
  const recipient =
    (p.recipientId !== null ? state.shopperById.get(p.recipientId) : undefined) ??
    shopperNamed(state, p.recipientNetwork, p.recipientHandle);
  if (recipient !== null) {
    p.recipientId = recipient.id;
    transfer(state, out, p.id, [
      {
        from: accounts.wallet(p.payerId),
        to: accounts.wallet(recipient.id),
        minor: p.amountMinor,
        currency: p.currency,
      },
    ]);
    return complete(state, out, p);
  }
  const expiresAt = out.entry.at + claimPeriodOf(out);
  const hold = openHold(state, out, p.id, accounts.wallet(p.payerId), moneyOf(p), expiresAt);
  p.holdId = hold.id;
  p.status = 'pending_claim';
  p.expiresAt = expiresAt;
  p.updatedAt = out.entry.at;
  const key = `${p.recipientNetwork}:${p.recipientHandle}`;
  const list = state.money.claims.get(key) ?? [];
  list.push(p);
  state.money.claims.set(key, list);
  state.money.deadlines.push(expiresAt, p.id);
  out.fx.money.payments.add(p);
  const payer = state.shopperById.get(p.payerId)!;
  const link = `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(p.recipientNetwork)}&handle=${encodeURIComponent(p.recipientHandle)}&claim=${p.id}`;
  // The recipient chose nothing yet, so in public the amount is never shown; a direct message may.
  if (DM_NETWORKS.has(p.recipientNetwork)) {
    out.direct(
      p.recipientNetwork,
      moneyReplies.claimMention(p.recipientHandle, payer.handle, moneyOf(p), link, claimDays(out)),
    );
  } else {
    const text = moneyReplies.claimMention(
      p.recipientHandle,
      payer.handle,
      null,
      link,
      claimDays(out),
    );
    if (p.postId !== null) out.reply(p.network, p.postId, text);
    else out.reply(p.recipientNetwork, null, text);
  }
  tell(
    state,
    out,
    payer,
    'Money held for a claim',
    moneyReplies.claimHeld(p.recipientHandle, claimDays(out)),
  );
}

function complete(state: State, out: MoneyOut, p: Payment): void {
  const payer = state.shopperById.get(p.payerId)!;
  const recipient = state.shopperById.get(p.recipientId!)!;
  state.money.pairs.add(`${p.payerId}|${recipient.id}`);
  endPayment(state, out, p, 'completed', null);
  const money = moneyOf(p);
  if (bothPublic(state, payer, recipient)) {
    replyTo(out, p, moneyReplies.sent(money, payer.handle, recipient.handle, p.memo));
  } else if (p.postId !== null) {
    // A private payment is acknowledged in public without its amount, or not at all.
    replyTo(out, p, moneyReplies.sent(null, payer.handle, recipient.handle, ''));
  }
  tell(
    state,
    out,
    payer,
    'Payment sent',
    moneyReplies.sent(money, payer.handle, recipient.handle, p.memo),
  );
  tell(state, out, recipient, 'Money received', moneyReplies.received(money, payer.handle, p.memo));
}

function endPayment(
  state: State,
  out: MoneyOut,
  p: Payment,
  status: Payment['status'],
  failure: string | null,
): void {
  p.status = status;
  p.failure = failure;
  p.updatedAt = out.entry.at;
  state.money.payments.delete(p.id);
  out.fx.money.payments.add(p);
  // What never left counts no more against the limits.
  if (status === 'expired' || status === 'failed' || status === 'canceled')
    countSent(state, p, -1n);
}

function expirePayment(state: State, out: MoneyOut, p: Payment): void {
  retirePaymentCode(state, out, p, 'expired');
  endPayment(state, out, p, 'expired', null);
  const payer = state.shopperById.get(p.payerId);
  if (payer) tell(state, out, payer, 'Payment not sent', moneyReplies.payExpired());
}

/** The earliest money deadline (a code's or a claim's end), for the clock. */
export function moneyNextDeadline(state: State): number | null {
  return state.money.deadlines.peek();
}

/** Codes and claims whose time is up: codes expire, unclaimed money goes back to the payer's wallet. */
export function moneyTick(state: State, out: MoneyOut): void {
  const at = out.entry.at;
  const m = state.money;
  for (let next = m.deadlines.peek(); next !== null && next <= at; next = m.deadlines.peek()) {
    const p = m.payments.get(m.deadlines.pop()!);
    if (p === undefined || p.expiresAt > at) continue;
    if (p.status === 'awaiting_confirmation' || p.status === 'awaiting_step_up')
      expirePayment(state, out, p);
    else if (p.status === 'pending_claim') {
      voidHold(state, out, p.holdId!);
      p.holdId = null;
      const key = `${p.recipientNetwork}:${p.recipientHandle}`;
      const left = (m.claims.get(key) ?? []).filter((c) => c !== p);
      if (left.length > 0) m.claims.set(key, left);
      else m.claims.delete(key);
      endPayment(state, out, p, 'returned', 'claim_expired');
      const payer = state.shopperById.get(p.payerId);
      if (payer)
        tell(
          state,
          out,
          payer,
          'Money returned',
          moneyReplies.returned(moneyOf(p), p.recipientHandle),
        );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Processor results

// ---------------------------------------------------------------------------------------------
// Orders paid from the wallet first, then the card

/**
 * Reserves what the shopper's wallet holds towards an order being confirmed (a hold); answers the
 * part the card must still be charged. Called by decide.ts's confirm.
 */
export function cardPartOfOrder(state: State, out: MoneyOut, order: Order): bigint {
  const shopperId = order.shopperId!;
  const balance = walletBalance(state, shopperId, order.currency);
  if (balance <= 0n) return order.amountMinor;
  const minor = balance < order.amountMinor ? balance : order.amountMinor;
  const hold = openHold(
    state,
    out,
    order.id,
    accounts.wallet(shopperId),
    { minor, currency: order.currency },
    null,
  );
  state.money.orderWallet.set(order.id, { holdId: hold.id, minor });
  return order.amountMinor - minor;
}

/**
 * What a refund of `amount` of the order sends back to the card. Refunds go to the card first, up to
 * what the card paid, and the rest to the wallet (refundOrderWallet).
 */
export function cardRefundOf(state: State, order: Order, amount: bigint): bigint {
  const walletPaid = state.money.orderWallet.get(order.id)?.minor ?? 0n;
  const cardLeft = order.amountMinor - walletPaid - order.refundedMinor;
  return cardLeft <= 0n ? 0n : cardLeft < amount ? cardLeft : amount;
}

/** After a refund of `share` of an order paid partly from the wallet: the wallet's part goes back. */
export function refundOrderWallet(state: State, out: MoneyOut, order: Order, share: bigint): void {
  const part = state.money.orderWallet.get(order.id);
  if (part === undefined || part.holdId !== null) return;
  const before = order.refundedMinor - share;
  const cardLeft = order.amountMinor - part.minor - before;
  const toCard = cardLeft <= 0n ? 0n : cardLeft < share ? cardLeft : share;
  const toWallet = share - toCard;
  if (order.refundedMinor >= order.amountMinor) state.money.orderWallet.delete(order.id);
  if (toWallet === 0n) return;
  transfer(state, out, order.id, [
    {
      from: accounts.funding(order.shopperId!),
      to: accounts.wallet(order.shopperId!),
      minor: toWallet,
      currency: order.currency,
    },
  ]);
}

/**
 * Reserves up to `want` of the shopper's wallet towards `ref` (a pay-with-tagpay payment, which has
 * no order): the hold and what it holds, or null when the wallet holds nothing in that currency.
 */
export function holdWallet(
  state: State,
  out: MoneyOut,
  ref: string,
  shopperId: string,
  want: Money,
): { holdId: string; minor: bigint } | null {
  const balance = walletBalance(state, shopperId, want.currency);
  if (balance <= 0n) return null;
  const minor = balance < want.minor ? balance : want.minor;
  const hold = openHold(state, out, ref, accounts.wallet(shopperId), { ...want, minor }, null);
  return { holdId: hold.id, minor };
}

/**
 * The card's answer for a wallet hold taken by holdWallet or cardPartOfOrder: paid, the held money
 * joins the card's in the shopper's funding account (the sale's postings take the whole amount from
 * there); declined, it goes back to the wallet.
 */
export function settleWalletHold(
  state: State,
  out: MoneyOut,
  holdId: string,
  shopperId: string,
  paid: boolean,
): void {
  if (paid) postHold(state, out, holdId, accounts.funding(shopperId));
  else voidHold(state, out, holdId);
}

/** An order of a payment (buy-now, cart) was charged: its wallet part, if any, is settled. */
export function settleOrderWallet(state: State, out: MoneyOut, order: Order, paid: boolean): void {
  const part = state.money.orderWallet.get(order.id);
  if (part === undefined || part.holdId === null) return;
  settleWalletHold(state, out, part.holdId, order.shopperId!, paid);
  if (paid) part.holdId = null;
  else state.money.orderWallet.delete(order.id);
}

/** A card charge of a payment or a top-up; false when the charge is an order's. */
export function moneyChargeResult(state: State, out: MoneyOut, result: ChargeResultEvent): boolean {
  const m = state.money;
  const orderPart = m.orderWallet.get(result.orderId);
  if (orderPart !== undefined && orderPart.holdId !== null) {
    // An order's charge: its wallet part joins the card's money (then the order's postings take
    // the whole amount from the shopper's funding account), or goes back to the wallet.
    const order = state.activeOrders.get(result.orderId);
    if (order === undefined || order.status !== 'charging') return false;
    settleOrderWallet(state, out, order, result.ok);
    return false;
  }
  const p = m.payments.get(result.orderId);
  if (p !== undefined) {
    if (p.status !== 'charging') return true;
    if (p.holdId !== null) {
      // The reserved wallet part comes back to the wallet, where the card part now joins it.
      voidHold(state, out, p.holdId);
      p.holdId = null;
    }
    if (!result.ok) {
      endPayment(state, out, p, 'failed', result.reason ?? 'card_declined');
      const payer = state.shopperById.get(p.payerId);
      if (payer) noteCardSpend(state, payer, p.currency, p.createdAt, -p.cardMinor);
      if (payer)
        tell(
          state,
          out,
          payer,
          'Payment not sent',
          moneyReplies.payDeclined(result.reason ?? 'card_declined'),
        );
      replyTo(out, p, moneyReplies.payDeclined(result.reason ?? 'card_declined'));
      return true;
    }
    p.chargeId = result.chargeId;
    transfer(state, out, p.id, [
      {
        from: accounts.funding(p.payerId),
        to: accounts.wallet(p.payerId),
        minor: p.cardMinor,
        currency: p.currency,
      },
    ]);
    fund(state, out, p);
    return true;
  }
  const op = m.walletOps.get(result.orderId);
  if (op === undefined) return false;
  if (op.status !== 'pending' || op.kind !== 'top_up') return true;
  m.walletOps.delete(op.id);
  op.updatedAt = out.entry.at;
  out.fx.money.walletOps.add(op);
  if (!result.ok) {
    op.status = 'failed';
    op.failure = result.reason ?? 'card_declined';
    const shopper = state.shopperById.get(op.shopperId);
    if (shopper) noteCardSpend(state, shopper, op.currency, op.createdAt, -op.amountMinor);
    return true;
  }
  op.status = 'succeeded';
  op.processorRef = result.chargeId;
  transfer(state, out, op.id, [
    {
      from: accounts.funding(op.shopperId),
      to: accounts.wallet(op.shopperId),
      minor: op.amountMinor,
      currency: op.currency,
    },
  ]);
  return true;
}

/** A credit to the card of a withdrawal: the hold is posted out of tagpay, or voided back. */
export function moneyCreditResult(
  state: State,
  out: MoneyOut,
  result: CardCreditResultEvent,
): void {
  const op = state.money.walletOps.get(result.opId);
  if (op === undefined || op.status !== 'pending' || op.kind !== 'withdrawal') return;
  state.money.walletOps.delete(op.id);
  op.updatedAt = out.entry.at;
  out.fx.money.walletOps.add(op);
  if (result.ok) {
    postHold(state, out, op.holdId!, accounts.funding(op.shopperId));
    op.status = 'succeeded';
    op.processorRef = result.creditId;
  } else {
    voidHold(state, out, op.holdId!);
    op.status = 'failed';
    op.failure = result.error ?? 'credit failed';
  }
}

// ---------------------------------------------------------------------------------------------
// Gift cards

/**
 * A paid order of a gift-card offer: the buyer's price and the merchant's share of the value go to
 * the gift-card liability, and each card's code goes to the buyer once, privately. True when the
 * order was a gift card's (decide.ts then does nothing more).
 */
export function giftCardSold(
  state: State,
  out: MoneyOut,
  order: Order,
  merchant: Merchant,
  title: string,
): boolean {
  const value = state.money.giftValues.get(order.offerId);
  if (value === undefined) return false;
  const totalValue = value * BigInt(order.quantity);
  const postings: Posting[] = [
    {
      from: accounts.funding(order.shopperId!),
      to: accounts.giftCards(),
      minor: order.amountMinor,
      currency: order.currency,
    },
  ];
  // The merchant funds the difference between the value and the price (Amex's $25 card for $15).
  if (totalValue > order.amountMinor)
    postings.push({
      from: accounts.payable(merchant.id),
      to: accounts.giftCards(),
      minor: totalValue - order.amountMinor,
      currency: order.currency,
    });
  transfer(state, out, order.id, postings);
  const codes: string[] = [];
  for (let i = 0; i < order.quantity; i++) {
    const code = newGiftCode(out.ctx.random);
    codes.push(code);
    const card: GiftCard = {
      id: newId('gft', out.ctx.random),
      codeHash: hashGiftCode(normalizeGiftCode(code)!),
      orderId: order.id,
      offerId: order.offerId,
      buyerId: order.shopperId!,
      valueMinor: value,
      currency: order.currency,
      redeemedBy: null,
      redeemedAt: null,
      createdAt: out.entry.at,
    };
    state.money.giftCards.set(card.codeHash, card);
    out.fx.money.giftCards.add(card);
  }
  const total = { minor: order.amountMinor, currency: order.currency };
  // A gift card bought on the web (a buy-now link) has no post to answer under: the e-mail says it.
  if (order.postId !== '')
    out.reply(order.network, order.postId, moneyReplies.giftCardPaid(title, total, codes.length));
  const buyer = state.shopperById.get(order.shopperId!);
  if (buyer)
    out.email(
      buyer.email,
      moneyEmails.giftCards(title, { minor: value, currency: order.currency }, codes),
    );
  return true;
}

/** Gift cards are not refunded through the order: null, or why not. */
export function refundRefusal(state: State, order: Order): string | null {
  return state.money.giftValues.has(order.offerId) ? 'Gift cards are not refundable.' : null;
}

// ---------------------------------------------------------------------------------------------
// API commands

function ok(out: MoneyOut, status: number, body: unknown): void {
  out.fx.apiResults.push({ key: out.entry.key, status, body });
}

function fail(out: MoneyOut, code: ErrorCode, message: string, param?: string): void {
  out.fx.apiResults.push({
    key: out.entry.key,
    status: ERROR_STATUS[code],
    body: errorBody(code, message, param),
  });
}

/** The API code of each refusal: stable, like every error code. */
export const PAY_REFUSAL_CODE: Record<PayRefusalReason, ErrorCode> = {
  missing: 'INVALID_AMOUNT',
  invalid: 'INVALID_AMOUNT',
  negative: 'INVALID_AMOUNT',
  zero: 'INVALID_AMOUNT',
  too_many_decimals: 'INVALID_AMOUNT',
  too_large: 'INVALID_AMOUNT',
  unknown_currency: 'UNKNOWN_CURRENCY',
  no_recipient: 'INVALID_HANDLE',
  unknown_network: 'UNKNOWN_NETWORK',
  self_payment: 'SELF_PAYMENT',
  memo_too_long: 'INVALID_REQUEST',
  not_linked: 'NOT_LINKED',
  payer_not_linked: 'PAYER_NOT_LINKED',
  over_daily_limit: 'PAYMENT_LIMIT_EXCEEDED',
  over_weekly_limit: 'PAYMENT_LIMIT_EXCEEDED',
  frozen: 'PAYMENT_REFUSED',
  cool_down: 'PAYMENT_REFUSED',
  velocity_handle: 'PAYMENT_REFUSED',
  velocity_card: 'PAYMENT_REFUSED',
  card_daily_limit: 'PAYMENT_REFUSED',
};

export function paymentView(p: Payment) {
  return {
    id: p.id,
    object: 'handle_payment',
    kind: p.kind,
    status: p.status,
    payer: { network: p.payerNetwork, handle: p.payerHandle },
    recipient: { network: p.recipientNetwork, handle: p.recipientHandle },
    amount: Number(p.amountMinor),
    currency: p.currency,
    memo: p.memo,
    from_wallet: Number(p.walletMinor),
    from_card: Number(p.cardMinor),
    failure_reason: p.failure,
    expires_at: new Date(p.expiresAt).toISOString(),
    created_at: new Date(p.createdAt).toISOString(),
  };
}

export function walletOpView(op: WalletOp) {
  return {
    id: op.id,
    object: op.kind,
    status: op.status,
    amount: Number(op.amountMinor),
    currency: op.currency,
    failure_reason: op.failure,
    created_at: new Date(op.createdAt).toISOString(),
  };
}

const MONEY_OPS: ReadonlySet<string> = new Set([
  'giftcard.offer_create',
  'payment.create',
  'payment.confirm',
  'wallet.top_up',
  'wallet.withdraw',
  'giftcard.redeem',
  'shopper.settings',
]);

export function isMoneyCommand(cmd: ApiCommand): cmd is MoneyCommand {
  return MONEY_OPS.has(cmd.op);
}

export function moneyApi(
  state: State,
  out: MoneyOut,
  cmd: MoneyCommand,
  createOffer: (cmd: Extract<ApiCommand, { op: 'offer.create' }>) => void,
): void {
  if (cmd.op === 'giftcard.offer_create') {
    createOffer(cmd.offer);
    const result = out.fx.apiResults.at(-1);
    if (result?.key !== out.entry.key || result.status !== 201) return;
    const body = result.body as { id: string };
    const value = BigInt(cmd.valueMinor);
    state.money.giftValues.set(body.id, value);
    out.fx.money.giftOffers.push({ offerId: body.id, valueMinor: value });
    result.body = { ...body, kind: 'gift_card', gift_card_value: Number(value) };
    return;
  }
  const shopper = state.shopperById.get(cmd.shopperId);
  if (shopper === undefined)
    return fail(out, 'NOT_LINKED', 'This handle has not linked tagpay.', 'handle');
  switch (cmd.op) {
    case 'payment.create': {
      const text = `#${cmd.kind} @${cmd.counterparty} ${cmd.amount} ${cmd.memo}`;
      const parsed = readPayCommand(
        text,
        cmd.kind,
        defaultCurrencyOf(state, out, shopper),
        cmd.network,
      );
      const started = startPayment(state, out, shopper, parsed, cmd.network, null);
      if (!started.ok)
        return fail(
          out,
          PAY_REFUSAL_CODE[started.reason],
          moneyReplies.refused(started.reason, started.detail, started.link),
          started.reason.endsWith('limit') ? 'amount' : undefined,
        );
      return ok(out, 201, paymentView(started.payment));
    }
    case 'payment.confirm': {
      const p = state.money.payments.get(cmd.paymentId);
      if (p === undefined || p.payerId !== shopper.id)
        return fail(out, 'NOT_FOUND', `No payment ${cmd.paymentId} awaiting you.`, 'id');
      if (p.status !== 'awaiting_confirmation')
        return fail(out, 'PAYMENT_NOT_PENDING', `Payment ${p.id} is ${p.status}.`);
      if (out.entry.at >= p.expiresAt) {
        expirePayment(state, out, p);
        return fail(
          out,
          'CODE_EXPIRED',
          'The confirmation code has expired; nothing was sent.',
          'code',
        );
      }
      if (p.codeHash !== cmd.codeHash)
        return fail(out, 'INVALID_CODE', 'That is not the code of this payment.', 'code');
      const confirmed = confirmPayment(state, out, p, null);
      if (!confirmed.ok)
        return fail(
          out,
          PAY_REFUSAL_CODE[confirmed.reason],
          moneyReplies.refused(confirmed.reason, confirmed.detail),
        );
      return ok(out, 200, paymentView(p));
    }
    case 'wallet.top_up': {
      // A top-up charges the card: the fraud controls' check, without a step-up (the money stays
      // the shopper's; spending it from the wallet is checked), and the card's daily amount counts it.
      const amount = BigInt(cmd.amountMinor);
      const check = checkSpend(state, out.ctx.safety, {
        key: handleKey(shopper.network, shopper.account),
        shopper,
        amountMinor: amount,
        currency: cmd.currency,
        at: out.entry.at,
      });
      if (!check.ok) {
        const refused = safetyRefusal(check);
        return fail(out, 'PAYMENT_REFUSED', moneyReplies.refused(refused.reason, refused.detail));
      }
      const op = newOp(out, 'top_up', shopper.id, cmd.amountMinor, cmd.currency);
      noteCardSpend(state, shopper, op.currency, op.createdAt, amount);
      state.money.walletOps.set(op.id, op);
      out.fx.outbox.push({
        key: `charge:${op.id}`,
        kind: 'charge',
        body: {
          order_id: op.id,
          card_token: shopper.cardToken,
          amount: cmd.amountMinor,
          currency: cmd.currency,
          description: `tagpay wallet top-up (${op.id})`,
        },
      });
      return ok(out, 202, walletOpView(op));
    }
    case 'wallet.withdraw': {
      const blocked = accountBlocked(state, shopper, out.entry.at);
      if (blocked !== null) {
        const refused = safetyRefusal(blocked);
        return fail(out, 'PAYMENT_REFUSED', moneyReplies.refused(refused.reason, refused.detail));
      }
      const amount = BigInt(cmd.amountMinor);
      const balance = walletBalance(state, shopper.id, cmd.currency);
      if (balance < amount)
        return fail(
          out,
          'INSUFFICIENT_FUNDS',
          `The wallet holds ${formatMoney({ minor: balance, currency: cmd.currency })}.`,
          'amount',
        );
      const op = newOp(out, 'withdrawal', shopper.id, cmd.amountMinor, cmd.currency);
      op.holdId = openHold(
        state,
        out,
        op.id,
        accounts.wallet(shopper.id),
        { minor: amount, currency: cmd.currency },
        null,
      ).id;
      state.money.walletOps.set(op.id, op);
      out.fx.outbox.push({
        key: `credit:${op.id}`,
        kind: 'card_credit',
        body: {
          op_id: op.id,
          card_token: shopper.cardToken,
          amount: cmd.amountMinor,
          currency: cmd.currency,
        },
      });
      return ok(out, 202, walletOpView(op));
    }
    case 'giftcard.redeem': {
      const card = state.money.giftCards.get(cmd.codeHash);
      if (card === undefined)
        return fail(out, 'GIFT_CARD_NOT_FOUND', 'No gift card has this code.', 'code');
      if (card.redeemedAt !== null)
        return fail(
          out,
          'GIFT_CARD_USED',
          'This gift card was already redeemed; each code works once.',
          'code',
        );
      card.redeemedBy = shopper.id;
      card.redeemedAt = out.entry.at;
      out.fx.money.giftCards.add(card);
      transfer(state, out, card.id, [
        {
          from: accounts.giftCards(),
          to: accounts.wallet(shopper.id),
          minor: card.valueMinor,
          currency: card.currency,
        },
      ]);
      return ok(out, 200, giftCardView(card));
    }
    case 'shopper.settings': {
      const before = state.money.settings.get(shopper.id);
      const next: ShopperSettings = {
        visibility: cmd.visibility ?? before?.visibility ?? VISIBILITY_DEFAULT,
        defaultCurrency: cmd.defaultCurrency ?? before?.defaultCurrency ?? null,
      };
      state.money.settings.set(shopper.id, next);
      out.fx.money.settings.set(shopper.id, { ...next, at: out.entry.at });
      return ok(out, 200, {
        object: 'settings',
        visibility: next.visibility,
        default_currency: defaultCurrencyOf(state, out, shopper),
      });
    }
  }
}

export function giftCardView(card: GiftCard) {
  return {
    id: card.id,
    object: 'gift_card',
    value: Number(card.valueMinor),
    balance: card.redeemedAt === null ? Number(card.valueMinor) : 0,
    currency: card.currency,
    status: card.redeemedAt === null ? 'active' : 'redeemed',
    redeemed_at: card.redeemedAt === null ? null : new Date(card.redeemedAt).toISOString(),
  };
}

function newOp(
  out: MoneyOut,
  kind: WalletOp['kind'],
  shopperId: string,
  minor: string,
  currency: string,
): WalletOp {
  const op: WalletOp = {
    id: newId(kind === 'top_up' ? 'top' : 'wdr', out.ctx.random),
    kind,
    shopperId,
    amountMinor: BigInt(minor),
    currency,
    status: 'pending',
    holdId: null,
    processorRef: null,
    failure: null,
    createdAt: out.entry.at,
    updatedAt: out.entry.at,
  };
  out.fx.money.walletOps.add(op);
  return op;
}

export type { DeclineReason };
