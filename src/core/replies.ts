import { displayCode } from './codes.ts';
import { formatMoney, type Money } from './money.ts';

/**
 * Every text tagpay posts or e-mails, in one place, so wording stays consistent and reviewable.
 * Replies are short (Bluesky allows 300 characters) and say what happened in plain words.
 */

export type DeclineReason =
  'card_declined' | 'insufficient_funds' | 'processor_error' | 'card_expired';

const DECLINE_TEXT: Record<DeclineReason, string> = {
  card_declined: 'your card was declined by your bank',
  insufficient_funds: 'your card has insufficient funds',
  processor_error: 'we could not reach your card issuer after several tries',
  card_expired: 'your card has expired',
};

export type RefusalReason =
  | 'not_on_sale'
  | 'variant_required'
  | 'unknown_variant'
  | 'quantity_invalid'
  | 'buyer_cap'
  | 'over_purchase_limit'
  | 'over_daily_limit'
  | 'frozen'
  | 'cool_down'
  | 'velocity_handle'
  | 'velocity_card'
  | 'card_daily_limit';

/** Why a purchase asks for a step-up by e-mail (src/engine/flows/safety.ts). */
export type StepUpReason =
  'threshold' | 'new_link' | 'owner_changed' | 'new_address' | 'unusual_amount';

const STEP_UP_TEXT: Record<StepUpReason, string> = {
  threshold: 'it is above the amount you asked us to double-check',
  new_link: 'it is the first purchase since this handle was linked',
  owner_changed: 'this handle was linked to a different account before',
  new_address: 'your shipping address changed recently',
  unusual_amount: 'it is much larger than your usual purchases',
};

/** The same reasons, said of a payment by post (`#pay`, or paying a `#request`). */
const PAY_STEP_UP_TEXT: Record<StepUpReason, string> = {
  threshold: 'it is above the amount you asked us to double-check',
  new_link: 'it is the first time this handle spends since it was linked',
  owner_changed: 'this handle was linked to a different account before',
  new_address: 'your shipping address changed recently',
  unusual_amount: 'it is much larger than your usual purchases',
};

/** Said after a reply or e-mail about an offer of a merchant the operator has not verified. */
export const UNVERIFIED_NOTE = 'Note: unverified merchant.';

export const replies = {
  confirm(title: string, total: Money, code: string, windowMin: number): string {
    // "Reply": on Mastodon and X a code reaches tagpay only as a reply or mention of its account.
    return `To buy ${title} for ${formatMoney(total)}, reply with ${displayCode(code)} within ${windowMin} minutes. It works once, only from your account. Reply #cancel to drop it.`;
  },
  signup(title: string, link: string, windowMin: number): string {
    return `${title} is held for you for ${windowMin} minutes. Link your card and address once at ${link} and we will send your confirmation code.`;
  },
  soldOut(title: string, position: number): string {
    return `Sorry, ${title} is sold out right now. You are number ${position} on the waitlist; if a unit comes back we will hold it for you.`;
  },
  soldOutWaitlistFull(title: string): string {
    return `Sorry, ${title} is sold out and its waitlist is full.`;
  },
  waitlistServed(title: string): string {
    return `Good news: a unit of ${title} came back and is held for you.`;
  },
  paid(title: string, total: Money, orderId: string): string {
    return `Paid: ${title}, ${formatMoney(total)}. Order ${orderId} ships to the address on your profile.`;
  },
  declined(title: string, reason: DeclineReason): string {
    return `We could not complete ${title}: ${DECLINE_TEXT[reason]}. Nothing was charged and the item is released.`;
  },
  refunded(title: string, total: Money): string {
    return `Refunded: ${formatMoney(total)} for ${title} is on its way back to your card.`;
  },
  expired(title: string): string {
    return `Your hold on ${title} expired before it was confirmed. Nothing was charged.`;
  },
  codeExpired(): string {
    return 'That confirmation code has expired. Nothing was charged; post the offer hashtag again to start over.';
  },
  codesPaused(): string {
    return 'Too many wrong confirmation codes came from this account, so its codes are paused for an hour. If this was not you, secure your account.';
  },
  codeUsed(): string {
    return 'That confirmation code was already used; each code works once.';
  },
  codeCanceled(): string {
    return 'That was canceled, so its code no longer works and nothing was charged. Post again to start over.';
  },
  canceled(count: number): string {
    return count === 1
      ? 'Canceled: your pending checkout is dropped and nothing was charged.'
      : `Canceled: your ${count} pending checkouts are dropped and nothing was charged.`;
  },
  nothingToCancel(): string {
    return 'You have no pending checkout to cancel.';
  },
  refused(title: string, reason: RefusalReason, detail: string): string {
    switch (reason) {
      case 'not_on_sale':
        return `${title} is not on sale right now.`;
      case 'variant_required':
        return `Which one? Reply with the hashtag and one of: ${detail}.`;
      case 'unknown_variant':
        return `We don't have that option of ${title}. Choose one of: ${detail}.`;
      case 'quantity_invalid':
        return `You can buy between 1 and ${detail} of ${title} in one post.`;
      case 'buyer_cap':
        return `${title} is limited to ${detail} per buyer.`;
      case 'over_purchase_limit':
        return `This purchase is above your per-purchase limit of ${detail}. Raise it on your profile to buy.`;
      case 'over_daily_limit':
        return `This purchase would pass your daily spending limit of ${detail}.`;
      case 'frozen':
        return 'This account is frozen after a "not me" report, so it cannot buy. Contact the operator of this tagpay to unfreeze it.';
      case 'cool_down':
        return `This account was re-linked recently; for your safety it can buy again from ${detail}.`;
      case 'velocity_handle':
        return `Too many purchases from this account in the last hour (at most ${detail}). Try again later.`;
      case 'velocity_card':
        return `Too many purchases with this card in the last hour (at most ${detail}). Try again later.`;
      case 'card_daily_limit':
        return `This purchase would pass the daily amount allowed on this card (${detail}).`;
    }
  },
  offerPost(
    title: string,
    price: Money,
    hashtag: string,
    variants: readonly string[],
    verified = true,
  ): string {
    const options =
      variants.length > 0 ? ` (${variants.join(', ')}, e.g. #${hashtag} ${variants[0]} x1)` : '';
    const note = verified ? '' : ` ${UNVERIFIED_NOTE}`;
    return `${title} — ${formatMoney(price)}. Reply #${hashtag} to buy${options}.${note}`;
  },
  stepUp(title: string, total: Money, windowMin: number): string {
    return `For your safety, approve ${title} for ${formatMoney(total)} from the link we just e-mailed you, within ${windowMin} minutes. Nothing is charged until then.`;
  },
};

const notMe = (link: string) =>
  `\n\nNot you? Someone may control your social account. Freeze your tagpay account now (every pending purchase and payment is canceled and nothing more can be bought or sent until the operator unfreezes it):\n${link}\n`;

export const emails = {
  /** The link that proves a handle's owner reads this address (web onboarding). */
  verifyEmail(handle: string, link: string, validHours: number) {
    return {
      subject: 'Verify your e-mail for tagpay',
      text: `Open this link to confirm that ${handle} on tagpay may use this address (valid for ${validHours} hours):\n\n${link}\n\nIf you did not ask for this, ignore this e-mail.`,
    };
  },
  confirm(title: string, total: Money, code: string, windowMin: number, notMeLink: string) {
    return {
      subject: `Confirm your purchase: ${title}`,
      text: `To buy ${title} for ${formatMoney(total)}, reply to our post with ${displayCode(code)} from your account within ${windowMin} minutes.\n\nIf this was not you, do nothing: nothing is charged without the code.${notMe(notMeLink)}`,
    };
  },
  stepUp(
    title: string,
    total: Money,
    windowMin: number,
    reasons: readonly StepUpReason[],
    approveLink: string,
    notMeLink: string,
  ) {
    return {
      subject: `Approve your purchase: ${title}`,
      text: `Your account asked to buy ${title} for ${formatMoney(total)}. We ask you to approve it because ${reasons.map((r) => STEP_UP_TEXT[r]).join(', and ')}.\n\nApprove it within ${windowMin} minutes:\n${approveLink}\n\nIf you do nothing, nothing is charged.${notMe(notMeLink)}`,
    };
  },
  relinked(handle: string, changed: readonly string[], notMeLink: string) {
    return {
      subject: `Your tagpay profile for ${handle} changed`,
      text: `The ${changed.join(' and ')} of ${handle} on tagpay just changed. For your safety, purchases pause for a day.${notMe(notMeLink)}`,
    };
  },
  frozen(handle: string) {
    return {
      subject: `Your tagpay account ${handle} is frozen`,
      text: `As you asked, ${handle} is frozen: its pending purchases are canceled and it cannot buy until the operator of this tagpay unfreezes it.`,
    };
  },
  receipt(title: string, total: Money, orderId: string, address: string) {
    return {
      subject: `Receipt: ${title}`,
      text: `You paid ${formatMoney(total)} for ${title}.\nOrder: ${orderId}\nShips to:\n${address}\n`,
    };
  },
  /** A reply that could not be posted on its network in time, sent by e-mail instead (once). */
  replyByEmail(network: string, reply: string) {
    return {
      subject: `tagpay: our reply on ${network}`,
      text: `We could not post our reply to you on ${network} in time, so here it is:\n\n${reply}\n`,
    };
  },
};

/** Why a `#pay` or `#request` post (or its API call) is refused: each has a text and an API code. */
export type PayRefusalReason =
  | 'missing'
  | 'invalid'
  | 'negative'
  | 'zero'
  | 'too_many_decimals'
  | 'too_large'
  | 'unknown_currency'
  | 'no_recipient'
  | 'unknown_network'
  | 'self_payment'
  | 'memo_too_long'
  | 'not_linked'
  | 'payer_not_linked'
  | 'over_daily_limit'
  | 'over_weekly_limit'
  | 'frozen'
  | 'cool_down'
  | 'velocity_handle'
  | 'velocity_card'
  | 'card_daily_limit';

const PAY_REFUSAL_TEXT: Record<PayRefusalReason, (detail: string, link: string) => string> = {
  missing: () => 'How much? Write the amount after the handle, e.g. #pay @bob $10 pizza.',
  invalid: (d) => `We could not read "${d}" as an amount. Write it like $10, 10.50 USD or 10,50 €.`,
  negative: (d) => `"${d}" is below zero; an amount must be positive.`,
  zero: () => 'An amount must be more than zero.',
  too_many_decimals: (d) =>
    `"${d}" has more decimals than its currency has; write at most two (none for ¥), without thousands separators.`,
  too_large: (d) => `"${d}" is more than tagpay moves in one payment.`,
  unknown_currency: (d) =>
    `We don't know the currency of "${d}". Use a code such as USD, EUR or GBP, or $, €, £, ¥.`,
  no_recipient: () => 'Who to? Mention the handle, e.g. #pay @bob $10 pizza.',
  unknown_network: (d) => `${d} is on a network tagpay does not pay on from here.`,
  self_payment: () => 'You cannot pay yourself.',
  memo_too_long: () => 'The note is too long; keep it under 200 characters.',
  not_linked: (d) => `Link your card once at ${d} and post again to send money.`,
  payer_not_linked: (d, link) =>
    `@${d} has not linked tagpay yet, so we cannot ask them for money. Once they link their account${link === '' ? '' : ` at ${link}`}, post your request again.`,
  over_daily_limit: (d) => `This would pass your daily sending limit of ${d}.`,
  over_weekly_limit: (d) => `This would pass your weekly sending limit of ${d}.`,
  // The fraud controls' refusals (src/engine/flows/safety.ts), said of sending money.
  frozen: () =>
    'This account is frozen after a "not me" report, so it cannot send money. Contact the operator of this tagpay to unfreeze it.',
  cool_down: (d) =>
    `This account was re-linked recently; for your safety it can send money again from ${d}.`,
  velocity_handle: (d) =>
    `Too many payments and purchases from this account in the last hour (at most ${d}). Try again later.`,
  velocity_card: (d) =>
    `Too many payments and purchases with this card in the last hour (at most ${d}). Try again later.`,
  card_daily_limit: (d) => `This would pass the daily amount allowed on your card (${d}).`,
};

/** Texts of money to a handle, wallets and gift cards. Amounts appear only where the text says so. */
export const moneyReplies = {
  refused(reason: PayRefusalReason, detail: string, link = ''): string {
    return PAY_REFUSAL_TEXT[reason](detail, link);
  },
  /** A payment waits for the payer's approval by e-mail (a step-up); no amount unless public. */
  payStepUp(amount: Money | null, to: string, windowMin: number): string {
    const what =
      amount === null
        ? `your payment to @${to} (the amount is in your e-mail)`
        : `sending ${formatMoney(amount)} to @${to}`;
    return `For your safety, approve ${what} from the link we just e-mailed you, within ${windowMin} minutes. Nothing is sent until then.`;
  },
  /** What `#cancel` dropped of money by post, e.g. "your payment to @bob". */
  canceledPayments(what: readonly string[]): string {
    return `Canceled: ${what.join('; ')}. Nothing was sent.`;
  },
  requestDeclined(by: string): string {
    return `@${by} declined your request for money. Nothing was sent.`;
  },
  requestWithdrawn(by: string, amount: Money): string {
    return `@${by} withdrew their request for ${formatMoney(amount)}. Nothing was sent.`;
  },
  payCode(amount: Money, to: string, code: string, windowMin: number): string {
    return `To send ${formatMoney(amount)} to @${to}, reply with ${displayCode(code)} within ${windowMin} minutes. It works once, only from your account. Reply #cancel to drop it.`;
  },
  /** The code of a payment, in public: no amount unless both sides chose public. */
  payCodePrivate(to: string, code: string, windowMin: number): string {
    return `To send the payment to @${to} (the amount is in your e-mail), reply with ${displayCode(code)} within ${windowMin} minutes. It works once, only from your account. Reply #cancel to drop it.`;
  },
  requestCode(amount: Money, from: string, memo: string, code: string, windowH: number): string {
    const note = memo === '' ? '' : ` (${memo})`;
    return `@${from} asks you for ${formatMoney(amount)}${note}. To pay, reply with ${displayCode(code)} within ${windowH} hours; to decline, reply #cancel or do nothing.`;
  },
  requestCodePrivate(from: string, code: string, windowH: number): string {
    return `@${from} asks you for money (the amount is in your e-mail). To pay, reply with ${displayCode(code)} within ${windowH} hours; to decline, reply #cancel or do nothing.`;
  },
  sent(amount: Money | null, from: string, to: string, memo: string): string {
    const note = memo === '' ? '' : ` for ${memo}`;
    return amount === null
      ? `Done: @${from} paid @${to}${note}.`
      : `Done: @${from} sent ${formatMoney(amount)} to @${to}${note}.`;
  },
  received(amount: Money, from: string, memo: string): string {
    const note = memo === '' ? '' : ` for ${memo}`;
    return `You received ${formatMoney(amount)} from @${from}${note}. It is in your tagpay wallet.`;
  },
  claimMention(to: string, from: string, amount: Money | null, link: string, days: number): string {
    const what = amount === null ? 'money' : formatMoney(amount);
    return `@${to}, @${from} sent you ${what} with tagpay. Claim it within ${days} days by linking your account at ${link}`;
  },
  claimHeld(to: string, days: number): string {
    return `Sent. @${to} has not linked tagpay yet; we told them and hold the money for ${days} days, then it comes back to your wallet.`;
  },
  claimed(amount: Money, to: string): string {
    return `@${to} claimed the ${formatMoney(amount)} you sent.`;
  },
  returned(amount: Money, to: string): string {
    return `@${to} did not claim the ${formatMoney(amount)} you sent in time, so it is back in your tagpay wallet.`;
  },
  payExpired(): string {
    return 'Your payment was not confirmed in time, so nothing was sent.';
  },
  payDeclined(reason: DeclineReason): string {
    return `We could not send the money: ${DECLINE_TEXT[reason]}. Nothing was sent.`;
  },
  giftCardPaid(title: string, total: Money, count: number): string {
    const cards = count === 1 ? 'Your gift card code is' : `Your ${count} gift card codes are`;
    return `Paid: ${title}, ${formatMoney(total)}. ${cards} on the way to you privately, once.`;
  },
};

export const moneyEmails = {
  payCode(amount: Money, to: string, code: string, windowMin: number, notMeLink: string) {
    return {
      subject: `Confirm: send ${formatMoney(amount)} to @${to}`,
      text: `To send ${formatMoney(amount)} to @${to}, reply to our post with ${displayCode(code)} from your account within ${windowMin} minutes (or reply #cancel to drop it).\n\nIf this was not you, do nothing: nothing is sent without the code.${notMe(notMeLink)}`,
    };
  },
  requestCode(
    amount: Money,
    from: string,
    memo: string,
    code: string,
    windowH: number,
    notMeLink: string,
  ) {
    const note = memo === '' ? '' : ` (${memo})`;
    return {
      subject: `@${from} asks you for ${formatMoney(amount)}`,
      text: `@${from} asks you for ${formatMoney(amount)}${note}. To pay, reply to our post with ${displayCode(code)} from your account within ${windowH} hours; to decline, reply #cancel or do nothing.${notMe(notMeLink)}`,
    };
  },
  notice(subject: string, text: string) {
    return { subject, text };
  },
  stepUp(
    amount: Money,
    to: string,
    windowMin: number,
    reasons: readonly StepUpReason[],
    approveLink: string,
    notMeLink: string,
  ) {
    return {
      subject: `Approve your payment: ${formatMoney(amount)} to @${to}`,
      text: `Your account asked to send ${formatMoney(amount)} to @${to}. We ask you to approve it because ${reasons.map((r) => PAY_STEP_UP_TEXT[r]).join(', and ')}.\n\nApprove it within ${windowMin} minutes:\n${approveLink}\n\nIf you do nothing, nothing is sent.${notMe(notMeLink)}`,
    };
  },
  giftCards(title: string, value: Money, codes: string[]) {
    return {
      subject: `Your gift card: ${title}`,
      text: `Your ${formatMoney(value)} gift card${codes.length === 1 ? '' : 's'}:\n${codes.join('\n')}\n\nRedeem into your tagpay wallet; each code works once. We show it only this once and keep only its hash.`,
    };
  },
};

/** Texts of buy-now links, the cart (#cart, #checkout) and the receipts of web payments. */
export const checkoutReplies = {
  /** Appended to an offer post: the signed one-tap checkout link (a buy-now or ticket button). */
  buyNow(link: string): string {
    return `Buy now: ${link}`;
  },
  cartAdded(title: string, items: number, link: string): string {
    const count = items === 1 ? '1 item' : `${items} items`;
    return `Added ${title} to your cart (${count}). Check out at ${link} or post #checkout.`;
  },
  cartNoOffer(): string {
    return 'Reply #cart to an offer post (or post #cart with the offer hashtag) to add it to your cart.';
  },
  cartFull(max: number): string {
    return `Your cart is full (${max} items). Check out or remove something first.`;
  },
  cartEmpty(): string {
    return 'Your cart is empty. Reply #cart to an offer post to add it.';
  },
  checkoutSignup(link: string): string {
    return `Link your card and address once at ${link}, then post #checkout again.`;
  },
  checkoutConfirm(items: number, total: Money, code: string, windowMin: number): string {
    return `To buy the ${items === 1 ? 'item' : `${items} items`} in your cart for ${formatMoney(total)}, reply with ${displayCode(code)} within ${windowMin} minutes. It works once, only from your account. Reply #cancel to drop it.`;
  },
  checkoutWaiting(): string {
    return 'Your cart checkout is already waiting for its confirmation code: reply with it, or #cancel to start over.';
  },
  checkoutRefused(message: string): string {
    return `We could not check out your cart: ${message}`;
  },
  checkoutPaid(items: number, total: Money, orderIds: readonly string[]): string {
    return `Paid: ${items === 1 ? '1 item' : `${items} items`}, ${formatMoney(total)}. Orders ${orderIds.join(', ')} ship to the address on your profile.`;
  },
  checkoutDeclined(reason: string): string {
    return `We could not check out your cart: ${reason}. Nothing was charged and your cart is as it was.`;
  },
  checkoutExpired(): string {
    return 'Your cart checkout expired before it was confirmed. Nothing was charged; post #checkout to start over.';
  },
};

export const checkoutEmails = {
  receipt(lines: readonly string[], total: Money, paymentId: string, address: string | null) {
    return {
      subject: `Receipt: ${formatMoney(total)} paid with tagpay`,
      text: `You paid ${formatMoney(total)}.\n${lines.join('\n')}\nPayment: ${paymentId}\n${address === null ? '' : `Ships to:\n${address}\n`}`,
    };
  },
};

/** Texts of card-linked offers (Amex Sync offers): enrolment replies and credit e-mails. */
export const cardReplies = {
  offerPost(title: string, credit: Money, minSpend: Money, until: string, hashtag: string): string {
    return `${title}: ${formatMoney(credit)} back on a purchase of ${formatMoney(minSpend)} or more, until ${until}. Post #${hashtag} to add it to your card.`;
  },
  added(title: string, brand: string, last4: string, until: string): string {
    return `Added to your card: ${title} is on your ${brand} ending ${last4} until ${until}. Pay with that card and the credit comes back automatically.`;
  },
  already(title: string, last4: string): string {
    return `${title} is already on your card ending ${last4}.`;
  },
  full(title: string): string {
    return `Sorry, ${title} has reached its number of enrolments.`;
  },
  notActive(title: string): string {
    return `Sorry, ${title} is not running right now.`;
  },
  signup(title: string, link: string): string {
    return `To add ${title} to a card, link your card once at ${link}, then post the hashtag again.`;
  },
  credited(title: string, credit: Money, last4: string) {
    return {
      subject: `Statement credit: ${formatMoney(credit)} (${title})`,
      text: `A statement credit of ${formatMoney(credit)} for ${title} is on its way to your card ending ${last4}.`,
    };
  },
  reversed(title: string, credit: Money, last4: string) {
    return {
      subject: `Statement credit reversed: ${formatMoney(credit)} (${title})`,
      text: `The purchase that earned ${title} was refunded, so its credit of ${formatMoney(credit)} is taken back from your card ending ${last4}.`,
    };
  },
};
