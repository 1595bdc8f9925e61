import { looksLikeCode, newId } from '../../core/codes.ts';
import { accounts } from '../../core/ledger.ts';
import { CARD_ENROLMENTS_PER_CARD_MAX, POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import { readHashtags, RESERVED_HASHTAGS } from '../../core/post-grammar.ts';
import { cardReplies } from '../../core/replies.ts';
import { fail, handlesOf, holdsTag, ok, type Out } from '../decide.ts';
import type { PostEvent } from '../events.ts';
import { handleKey, type Merchant, type State } from '../state.ts';
import type {
  CardCredit,
  CardEnrolment,
  CardOffer,
  CardOfferCommand,
  CardTransactionEvent,
  CardTransactionRow,
} from './card-offers-state.ts';

/**
 * Card-linked offers (Amex Sync offers on Twitter, 2013): a merchant's "$10 back on $50 or more",
 * added to a shopper's card by posting its hashtag. When the processor reports a purchase at that
 * merchant on that card meeting the terms (by its signed webhook or a settlement file), the card gets
 * a statement credit funded by the merchant: a transfer from the merchant's payable balance to the
 * shopper's card, and a credit through the processor. One credit per transaction id (the log key),
 * one per enrolment; a refund of the purchase that takes it below the minimum spend reverses it.
 */

export function cardOfferView(o: CardOffer) {
  return {
    id: o.id,
    object: 'card_offer',
    merchant_id: o.merchantId,
    title: o.title,
    hashtag: o.hashtag,
    credit: { amount: Number(o.creditMinor), currency: o.currency },
    min_spend: { amount: Number(o.minSpendMinor), currency: o.currency },
    max_enrolments: o.maxEnrolments,
    enrolled: o.enrolled,
    status: o.status,
    starts_at: new Date(o.startsAt).toISOString(),
    ends_at: new Date(o.endsAt).toISOString(),
    created_at: new Date(o.createdAt).toISOString(),
  };
}

export function creditView(c: CardCredit) {
  return {
    id: c.id,
    object: 'statement_credit',
    card_offer_id: c.cardOfferId,
    transaction_id: c.txnId,
    shopper_id: c.shopperId,
    purchase: { amount: Number(c.purchaseMinor), currency: c.currency },
    credit: { amount: Number(c.creditMinor), currency: c.currency },
    status: c.status,
    created_at: new Date(c.createdAt).toISOString(),
  };
}

/** True when a live card-linked offer holds this (lower-cased) hashtag at `at`. */
export function cardOfferHoldsTag(state: State, tag: string, at: number): boolean {
  const offer = state.cards.byTag.get(tag);
  return offer !== undefined && offer.status === 'live' && at < offer.endsAt;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function cardOfferCommand(state: State, out: Out, cmd: CardOfferCommand): void {
  if (cmd.op === 'card_offer.end') {
    const offer = state.cards.offers.get(cmd.cardOfferId);
    if (offer === undefined || offer.merchantId !== cmd.merchantId)
      return fail(out, 'NOT_FOUND', `No card-linked offer ${cmd.cardOfferId}.`, 'id');
    if (offer.status !== 'ended') {
      offer.status = 'ended';
      if (state.cards.byTag.get(offer.hashtag.toLowerCase()) === offer)
        state.cards.byTag.delete(offer.hashtag.toLowerCase());
      out.fx.cards.offers.add(offer);
    }
    return ok(out, 200, cardOfferView(offer));
  }
  const at = out.entry.at;
  const merchant = state.merchants.get(cmd.merchantId);
  if (merchant === undefined)
    return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
  const tag = cmd.hashtag.toLowerCase();
  if (RESERVED_HASHTAGS.has(tag) || looksLikeCode(tag))
    return fail(out, 'INVALID_HASHTAG', `#${cmd.hashtag} is reserved by tagpay.`, 'hashtag');
  const startsAt = cmd.startsAt ?? at;
  if (cmd.endsAt <= Math.max(at, startsAt))
    return fail(
      out,
      'INVALID_REQUEST',
      'ends_at must be in the future and after starts_at.',
      'ends_at',
    );
  const offerHolder = state.offerByTag.get(tag);
  if ((offerHolder !== undefined && holdsTag(offerHolder, at)) || cardOfferHoldsTag(state, tag, at))
    return fail(
      out,
      'HASHTAG_TAKEN',
      `#${cmd.hashtag} is already used by a live offer.`,
      'hashtag',
    );
  const offer: CardOffer = {
    id: newId('clo', out.ctx.random),
    merchantId: merchant.id,
    title: cmd.title,
    hashtag: cmd.hashtag,
    creditMinor: BigInt(cmd.creditMinor),
    minSpendMinor: BigInt(cmd.minSpendMinor),
    currency: cmd.currency,
    startsAt,
    endsAt: cmd.endsAt,
    maxEnrolments: cmd.maxEnrolments,
    enrolled: 0,
    status: 'live',
    createdAt: at,
  };
  state.cards.offers.set(offer.id, offer);
  state.cards.byTag.set(tag, offer);
  out.fx.cards.offers.add(offer);
  const text = cardReplies.offerPost(
    offer.title,
    { minor: offer.creditMinor, currency: offer.currency },
    { minor: offer.minSpendMinor, currency: offer.currency },
    day(offer.endsAt),
    offer.hashtag,
  );
  for (const { network, handle } of handlesOf(merchant)) {
    if (network === 'local') out.post('local', handle, text);
    else out.post(network, out.ctx.botHandle(network), `${merchant.name} (@${handle}): ${text}`);
  }
  ok(out, 201, cardOfferView(offer));
}

/** A post that names a card-linked offer's hashtag adds the offer to the author's linked card. */
export function enrolByPost(state: State, out: Out, post: PostEvent, author: string): void {
  if (state.cards.byTag.size === 0 || author === out.ctx.botHandle(post.network)) return;
  if (post.text.length > POST_TEXT_CHARS_MAX) return;
  const offer = readHashtags(post.text)
    .tags.map((tag) => state.cards.byTag.get(tag))
    .find((o) => o !== undefined);
  if (offer === undefined) return;
  const merchant = state.merchants.get(offer.merchantId)!;
  if (handlesOf(merchant).some((h) => h.network === post.network && h.handle === author)) return;
  const at = out.entry.at;
  if (offer.status !== 'live' || at < offer.startsAt || at >= offer.endsAt)
    return out.reply(post.network, post.postId, cardReplies.notActive(offer.title));
  const key = handleKey(post.network, author);
  const shopper = state.shoppers.get(key);
  if (shopper === undefined) {
    const link = `${out.ctx.publicUrl}/signup?network=${encodeURIComponent(post.network)}&handle=${encodeURIComponent(author)}`;
    return out.reply(post.network, post.postId, cardReplies.signup(offer.title, link));
  }
  // Once per card: the processor's token stands for the card.
  if (state.cards.enrolledKeys.has(`${offer.id}|${shopper.cardToken}`))
    return out.reply(
      post.network,
      post.postId,
      cardReplies.already(offer.title, shopper.cardLast4),
    );
  const onCard = state.cards.enrolledByCard.get(shopper.cardToken) ?? [];
  if (offer.enrolled >= offer.maxEnrolments || onCard.length >= CARD_ENROLMENTS_PER_CARD_MAX)
    return out.reply(post.network, post.postId, cardReplies.full(offer.title));
  const enrolment: CardEnrolment = {
    id: newId('cle', out.ctx.random),
    cardOfferId: offer.id,
    shopperId: shopper.id,
    cardToken: shopper.cardToken,
    network: post.network,
    handle: author,
    status: 'enrolled',
    enrolledAt: at,
    updatedAt: at,
  };
  offer.enrolled++;
  onCard.push(enrolment);
  state.cards.enrolledByCard.set(shopper.cardToken, onCard);
  state.cards.enrolledKeys.add(`${offer.id}|${shopper.cardToken}`);
  out.fx.cards.offers.add(offer);
  out.fx.cards.enrolments.add(enrolment);
  out.reply(
    post.network,
    post.postId,
    cardReplies.added(offer.title, shopper.cardBrand, shopper.cardLast4, day(offer.endsAt)),
  );
}

/** A card transaction from the processor: a purchase may earn a credit, a refund may reverse one. */
export function onCardTransaction(state: State, out: Out, txn: CardTransactionEvent): void {
  const row: CardTransactionRow = {
    id: txn.txnId,
    type: txn.type,
    cardToken: txn.cardToken,
    merchantId: txn.merchantId,
    amountMinor: BigInt(txn.amountMinor),
    currency: txn.currency,
    occurredAt: txn.occurredAt,
    originalId: txn.originalId,
    outcome: txn.type === 'purchase' ? purchase(state, out, txn) : refund(state, out, txn),
    createdAt: out.entry.at,
  };
  out.fx.cards.transactions.push(row);
}

function purchase(state: State, out: Out, txn: CardTransactionEvent): string {
  const enrolments = state.cards.enrolledByCard.get(txn.cardToken);
  if (enrolments === undefined) return 'no_offer';
  const amount = BigInt(txn.amountMinor);
  let best: { enrolment: CardEnrolment; offer: CardOffer } | null = null;
  let outcome = 'no_offer';
  for (const enrolment of enrolments) {
    const offer = state.cards.offers.get(enrolment.cardOfferId)!;
    if (offer.merchantId !== txn.merchantId) continue;
    if (offer.currency !== txn.currency) {
      outcome = 'other_currency';
      continue;
    }
    // The terms are those of the day the card was used, not of the day the processor reported it.
    if (txn.occurredAt < offer.startsAt || txn.occurredAt >= offer.endsAt) {
      outcome = 'outside_dates';
      continue;
    }
    if (amount < offer.minSpendMinor) {
      outcome = 'below_minimum';
      continue;
    }
    if (best === null || offer.creditMinor > best.offer.creditMinor) best = { enrolment, offer };
  }
  if (best === null) return outcome;
  const { enrolment, offer } = best;
  const at = out.entry.at;
  enrolment.status = 'redeemed';
  enrolment.updatedAt = at;
  const left = enrolments.filter((e) => e !== enrolment);
  if (left.length === 0) state.cards.enrolledByCard.delete(txn.cardToken);
  else state.cards.enrolledByCard.set(txn.cardToken, left);
  out.fx.cards.enrolments.add(enrolment);
  const credit: CardCredit = {
    id: newId('clc', out.ctx.random),
    txnId: txn.txnId,
    enrolmentId: enrolment.id,
    cardOfferId: offer.id,
    merchantId: offer.merchantId,
    shopperId: enrolment.shopperId,
    network: enrolment.network,
    handle: enrolment.handle,
    cardToken: txn.cardToken,
    purchaseMinor: amount,
    refundedMinor: 0n,
    creditMinor: offer.creditMinor,
    currency: offer.currency,
    status: 'credited',
    createdAt: at,
    updatedAt: at,
  };
  state.cards.creditsByTxn.set(txn.txnId, credit);
  out.fx.cards.credits.add(credit);
  // Funded by the merchant: from what tagpay owes it, to the shopper's card.
  const transfer = {
    id: newId('trf', out.ctx.random),
    ref: credit.id,
    at,
    postings: [
      {
        from: accounts.payable(offer.merchantId),
        to: accounts.funding(enrolment.shopperId),
        minor: credit.creditMinor,
        currency: credit.currency,
      },
    ],
  };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
  creditEffects(state, out, credit, offer, 'credit');
  return 'credited';
}

function refund(state: State, out: Out, txn: CardTransactionEvent): string {
  const credit = txn.originalId === null ? undefined : state.cards.creditsByTxn.get(txn.originalId);
  if (credit === undefined || credit.status !== 'credited') return 'no_credit';
  if (credit.currency !== txn.currency || credit.cardToken !== txn.cardToken) return 'no_credit';
  const offer = state.cards.offers.get(credit.cardOfferId)!;
  const at = out.entry.at;
  credit.refundedMinor += BigInt(txn.amountMinor);
  if (credit.refundedMinor > credit.purchaseMinor) credit.refundedMinor = credit.purchaseMinor;
  credit.updatedAt = at;
  out.fx.cards.credits.add(credit);
  // What is left of the purchase still meets the terms: the credit stands.
  if (credit.purchaseMinor - credit.refundedMinor >= offer.minSpendMinor) return 'credit_kept';
  credit.status = 'reversed';
  state.cards.creditsByTxn.delete(credit.txnId);
  const transfer = {
    id: newId('trf', out.ctx.random),
    ref: credit.id,
    at,
    postings: [
      {
        from: accounts.funding(credit.shopperId),
        to: accounts.payable(credit.merchantId),
        minor: credit.creditMinor,
        currency: credit.currency,
      },
    ],
  };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
  creditEffects(state, out, credit, offer, 'reverse');
  return 'reversed';
}

/** The processor's statement credit (or its reversal), the shopper's e-mail and the merchant's webhook. */
function creditEffects(
  state: State,
  out: Out,
  credit: CardCredit,
  offer: CardOffer,
  action: 'credit' | 'reverse',
): void {
  out.fx.outbox.push({
    key: `statement_credit:${credit.id}:${action}`,
    kind: 'statement_credit',
    body: {
      credit_id: credit.id,
      action,
      card_token: credit.cardToken,
      amount: credit.creditMinor.toString(),
      currency: credit.currency,
    },
  });
  const shopper = state.shoppers.get(handleKey(credit.network, credit.handle));
  const money = { minor: credit.creditMinor, currency: credit.currency };
  if (shopper !== undefined) {
    const text =
      action === 'credit'
        ? cardReplies.credited(offer.title, money, shopper.cardLast4)
        : cardReplies.reversed(offer.title, money, shopper.cardLast4);
    out.email(shopper.email, text);
  }
  const merchant: Merchant | undefined = state.merchants.get(credit.merchantId);
  if (merchant !== undefined)
    out.webhook(
      merchant,
      action === 'credit' ? 'card_offer.credited' : 'card_offer.credit_reversed',
      creditView(credit),
    );
}
