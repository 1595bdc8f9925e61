import { createHmac, timingSafeEqual } from 'node:crypto';
import { errorBody, ERROR_STATUS, type ErrorCode } from '../../core/errors.ts';
import {
  DAY_MS,
  HOUR_MS,
  NEW_ADDRESS_STEP_UP_MS,
  NEW_LINK_STEP_UP_MS,
  OWNER_CHANGE_STEP_UP_MS,
  RELINK_COOL_DOWN_MS,
  UNUSUAL_AMOUNT_FACTOR,
  UNUSUAL_AMOUNT_HISTORY_MIN,
  VELOCITY_KEYS_MAX,
  WEBHOOK_SECRET_OVERLAP_MS_MAX,
  API_KEYS_PER_MERCHANT_MAX,
} from '../../core/limits.ts';
import { formatMoney, minorPerMajor } from '../../core/money.ts';
import { emails, replies, type RefusalReason, type StepUpReason } from '../../core/replies.ts';
import type { Sql } from '../../store/db.ts';
import { big, num } from '../../store/db.ts';
import { upsertRows, type Column } from '../../store/set-sql.ts';
import type { Out } from '../decide.ts';
import type { ApiCommand, SafetyCommand } from '../events.ts';
import {
  handleKey,
  pendingOf,
  type Effects,
  type Offer,
  type Order,
  type Shopper,
  type State,
} from '../state.ts';
import { merchantView } from '../views.ts';
import type { Guard } from './safety-state.ts';

/**
 * Fraud and takeover controls (issue 3, part 1): velocity per handle and per card, step-up by an
 * e-mailed link above the shopper's threshold and on anomalies, freeze by "not me", cool-down after a
 * re-link, and the audit log. Every flow that spends a shopper's money calls `checkSpend` before it
 * reserves anything, and asks for a step-up when the answer says so: buying by hashtag does
 * (`askStepUp`), and so does paying by post (money.ts, its own wording). Pure, like the rest of the engine: time is the log entry's, links are HMACs
 * of a secret the composition root passes in.
 */

/** What the operator set (src/config/env.ts); 0 turns a velocity limit off. */
export interface SafetyConfig {
  purchasesPerHourMax: number;
  cardDailyMajorMax: number;
  /** Step-up on anomalies (first spend, new owner, new address, unusual amount). */
  anomalyStepUp: boolean;
  /** Signs step-up and "not me" links. Kept in the settings table, never in the log. */
  linkSecret: string;
}

/** The answer of the spending check: refuse (with the reply's reason), or go on, maybe with a step-up. */
export type SpendCheck =
  { ok: false; reason: RefusalReason; detail: string } | { ok: true; stepUp: StepUpReason[] };

export interface SpendRequest {
  /** The spender's handle key (`network:account`). */
  key: string;
  shopper: Shopper;
  amountMinor: bigint;
  /** What of it may be charged to the card, for the card's daily amount (all of it when absent). */
  cardMinor?: bigint;
  currency: string;
  at: number;
}

// ---------------------------------------------------------------------------------------------
// Links

/** The token of a signed link: `<subject id>.<HMAC-SHA256(secret, purpose:subject)>`. */
export function linkToken(secret: string, purpose: 'step-up' | 'not-me', subject: string): string {
  const mac = createHmac('sha256', secret).update(`${purpose}:${subject}`).digest('base64url');
  return `${subject}.${mac}`;
}

/** The subject of a link token when its signature is right; null otherwise. */
export function readLinkToken(
  secret: string,
  purpose: 'step-up' | 'not-me',
  token: string,
): string | null {
  const dot = token.lastIndexOf('.');
  if (dot <= 0 || token.length > 200) return null;
  const subject = token.slice(0, dot);
  const expected = Buffer.from(linkToken(secret, purpose, subject));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given) ? subject : null;
}

/** What a signed link needs of an emitter: decide.ts's Out, or a flow's narrower view of it. */
type LinkOut = { readonly ctx: { publicUrl: string; safety: { linkSecret: string } } };

export function stepUpLink(out: LinkOut, subjectId: string): string {
  return `${out.ctx.publicUrl}/step-up?t=${linkToken(out.ctx.safety.linkSecret, 'step-up', subjectId)}`;
}

export function notMeLink(out: LinkOut, shopperId: string): string {
  return `${out.ctx.publicUrl}/not-me?t=${linkToken(out.ctx.safety.linkSecret, 'not-me', shopperId)}`;
}

// ---------------------------------------------------------------------------------------------
// Audit

/** Appends one entry to the audit log, in the batch's transaction. */
export function audit(
  fx: Effects,
  at: number,
  action: string,
  actor: string,
  subject: string,
  detail: Record<string, unknown> = {},
): void {
  fx.safety.audit.push({ at, action, actor, subject, detail });
}

/** Who sent an API command, for the audit log: `admin`, `local:<handle>`, or the merchant id. */
export function actorOf(out: Out): string {
  const body = out.entry.body;
  return body.kind === 'api' ? body.principal : body.kind;
}

// ---------------------------------------------------------------------------------------------
// Guards

/** The guard of a shopper, made from its profile the first time it is needed. */
export function guardOf(state: State, shopper: Shopper): Guard {
  const key = handleKey(shopper.network, shopper.account);
  let guard = state.safety.guards.get(key);
  if (guard === undefined) {
    guard = {
      shopperId: shopper.id,
      network: shopper.network,
      account: shopper.account,
      handle: shopper.handle,
      cardFingerprint: null,
      linkedAt: shopper.createdAt,
      coolDownUntil: null,
      addressChangedAt: null,
      ownerChangedAt: null,
      stepUpAboveMinor: null,
      stepUpCurrency: null,
      frozenAt: null,
      frozenBy: null,
      trustedAt: 0,
    };
    state.safety.guards.set(key, guard);
  }
  return guard;
}

function sameAddress(a: Shopper['shippingAddress'], b: Shopper['shippingAddress']): boolean {
  const norm = (x: Shopper['shippingAddress']) =>
    JSON.stringify([
      x.name,
      x.line1,
      x.line2 ?? '',
      x.city,
      x.region ?? '',
      x.postal_code,
      x.country,
    ]);
  return norm(a) === norm(b);
}

/**
 * After a link or re-link: remembers the card's fingerprint and the threshold, and sees what
 * changed. A re-link that changes the card or the e-mail, or a handle linked before to another
 * account (a new DID on Bluesky, another account on Mastodon), starts a cool-down; the old e-mail
 * is told, with a "not me" link. A new address makes the next purchase ask for a step-up.
 */
export function onLinked(
  state: State,
  out: Out,
  cmd: Extract<ApiCommand, { op: 'shopper.link' }>,
  existing: Shopper | undefined,
  shopper: Shopper,
): void {
  const at = out.entry.at;
  const guard = guardOf(state, shopper);
  const actor = actorOf(out);
  const ownerKey = `${cmd.network}:${cmd.handle.toLowerCase()}`;
  const previousOwner = state.safety.handleOwner.get(ownerKey);
  state.safety.handleOwner.set(ownerKey, cmd.account);
  const fingerprint = cmd.cardFingerprint ?? null;
  guard.handle = shopper.handle;
  if (cmd.stepUpAboveMinor !== undefined) {
    guard.stepUpAboveMinor = cmd.stepUpAboveMinor === null ? null : BigInt(cmd.stepUpAboveMinor);
    guard.stepUpCurrency = cmd.stepUpAboveMinor === null ? null : cmd.limitCurrency;
  }
  if (existing === undefined) {
    guard.cardFingerprint = fingerprint;
    guard.linkedAt = at;
    if (previousOwner !== undefined && previousOwner !== cmd.account) {
      guard.ownerChangedAt = at;
      guard.coolDownUntil = at + RELINK_COOL_DOWN_MS;
      audit(out.fx, at, 'handle.owner_changed', actor, shopper.id, {
        network: cmd.network,
        handle: cmd.handle,
        previous_account: previousOwner,
        account: cmd.account,
      });
    }
    audit(out.fx, at, 'shopper.linked', actor, shopper.id, {
      network: cmd.network,
      handle: cmd.handle,
      account: cmd.account,
    });
    out.fx.safety.guards.add(guard);
    return;
  }
  const changed: string[] = [];
  if (
    fingerprint !== null &&
    guard.cardFingerprint !== null &&
    fingerprint !== guard.cardFingerprint
  )
    changed.push('card');
  else if (fingerprint === null && existing.cardToken !== shopper.cardToken) changed.push('card');
  if (existing.email !== shopper.email) changed.push('e-mail');
  guard.cardFingerprint = fingerprint ?? guard.cardFingerprint;
  if (!sameAddress(existing.shippingAddress, shopper.shippingAddress)) guard.addressChangedAt = at;
  if (changed.length > 0) {
    guard.coolDownUntil = at + RELINK_COOL_DOWN_MS;
    // The old address hears of it: if the change was not theirs, they can freeze the account.
    out.email(existing.email, emails.relinked(shopper.handle, changed, notMeLink(out, shopper.id)));
  }
  audit(out.fx, at, 'shopper.relinked', actor, shopper.id, {
    changed: [...changed, ...(guard.addressChangedAt === at ? ['address'] : [])],
    cool_down_until: changed.length > 0 ? guard.coolDownUntil : null,
  });
  out.fx.safety.guards.add(guard);
}

// ---------------------------------------------------------------------------------------------
// The spending check

function recentCount(state: State, key: string, at: number): number {
  const times = state.safety.recent.get(key);
  if (times === undefined) return 0;
  while (times.length > 0 && times[0]! <= at - HOUR_MS) times.shift();
  if (times.length === 0) state.safety.recent.delete(key);
  return times.length;
}

export function cardSpentKey(fingerprint: string, currency: string, at: number): string {
  return `${fingerprint}|${currency}|${Math.floor(at / DAY_MS)}`;
}

/**
 * The part of the spending check that stops an account whatever the amount: frozen, or cooling down
 * after a re-link. Also asked before a wallet withdrawal, which moves money back to the shopper's
 * own card and so needs no velocity or step-up check.
 */
export function accountBlocked(
  state: State,
  shopper: Shopper,
  at: number,
): { ok: false; reason: RefusalReason; detail: string } | null {
  const guard = guardOf(state, shopper);
  if (guard.frozenAt !== null) return { ok: false, reason: 'frozen', detail: '' };
  if (guard.coolDownUntil !== null && at < guard.coolDownUntil) {
    return {
      ok: false,
      reason: 'cool_down',
      detail: new Date(guard.coolDownUntil).toISOString().replace('.000Z', 'Z'),
    };
  }
  return null;
}

/**
 * The one check before a shopper's money moves (a purchase now; a payment by post too): frozen,
 * cooling down after a re-link, velocity per handle and per card, then what asks for a step-up.
 */
export function checkSpend(state: State, config: SafetyConfig, req: SpendRequest): SpendCheck {
  const guard = guardOf(state, req.shopper);
  const at = req.at;
  const blocked = accountBlocked(state, req.shopper, at);
  if (blocked !== null) return blocked;
  const perHour = config.purchasesPerHourMax;
  if (perHour > 0 && recentCount(state, `h|${req.key}`, at) >= perHour)
    return { ok: false, reason: 'velocity_handle', detail: String(perHour) };
  const fp = guard.cardFingerprint;
  if (fp !== null && perHour > 0 && recentCount(state, `c|${fp}`, at) >= perHour)
    return { ok: false, reason: 'velocity_card', detail: String(perHour) };
  if (fp !== null && config.cardDailyMajorMax > 0) {
    const max = BigInt(config.cardDailyMajorMax) * minorPerMajor(req.currency);
    const spent = state.safety.cardSpent.get(cardSpentKey(fp, req.currency, at)) ?? 0n;
    if (spent + (req.cardMinor ?? req.amountMinor) > max) {
      return {
        ok: false,
        reason: 'card_daily_limit',
        detail: formatMoney({ minor: max, currency: req.currency }),
      };
    }
  }
  const stepUp: StepUpReason[] = [];
  if (
    guard.stepUpAboveMinor !== null &&
    guard.stepUpCurrency === req.currency &&
    req.amountMinor > guard.stepUpAboveMinor
  )
    stepUp.push('threshold');
  if (config.anomalyStepUp) {
    const history = state.safety.history.get(`${req.shopper.id}|${req.currency}`);
    // The first spend (in this currency) soon after the link.
    if (
      (history?.count ?? 0) === 0 &&
      at - guard.linkedAt < NEW_LINK_STEP_UP_MS &&
      guard.trustedAt < guard.linkedAt
    )
      stepUp.push('new_link');
    if (
      guard.ownerChangedAt !== null &&
      at - guard.ownerChangedAt < OWNER_CHANGE_STEP_UP_MS &&
      guard.trustedAt < guard.ownerChangedAt
    )
      stepUp.push('owner_changed');
    if (
      guard.addressChangedAt !== null &&
      at - guard.addressChangedAt < NEW_ADDRESS_STEP_UP_MS &&
      guard.trustedAt < guard.addressChangedAt
    )
      stepUp.push('new_address');
    if (
      history !== undefined &&
      history.count >= UNUSUAL_AMOUNT_HISTORY_MIN &&
      req.amountMinor > history.largest * UNUSUAL_AMOUNT_FACTOR
    )
      stepUp.push('unusual_amount');
  }
  return { ok: true, stepUp };
}

/** Counts a checkout toward the hourly velocity of its handle and its card. */
export function noteCheckout(state: State, key: string, shopper: Shopper, at: number): void {
  const fp = guardOf(state, shopper).cardFingerprint;
  for (const k of fp === null ? [`h|${key}`] : [`h|${key}`, `c|${fp}`]) {
    const times = state.safety.recent.get(k);
    if (times === undefined) state.safety.recent.set(k, [at]);
    else times.push(at);
  }
  for (const [oldest] of state.safety.recent) {
    if (state.safety.recent.size <= VELOCITY_KEYS_MAX) break;
    state.safety.recent.delete(oldest);
  }
}

/** What the spending records need of a charge: an order, or a pay-with-tagpay payment's fields. */
export type ChargeRecord = Pick<
  Order,
  'network' | 'handle' | 'currency' | 'createdAt' | 'amountMinor'
>;

/** Counts a charge toward its card's daily amount (delta −1 gives it back after a decline). */
export function noteCharge(state: State, order: ChargeRecord, delta: 1 | -1): void {
  const shopper = state.shoppers.get(handleKey(order.network, order.handle));
  if (shopper === undefined) return;
  noteCardSpend(state, shopper, order.currency, order.createdAt, BigInt(delta) * order.amountMinor);
}

/**
 * Counts `minor` charged to a shopper's card on the UTC day of `dayAt` toward the card's daily
 * amount (negative gives it back): purchases through noteCharge, payments and top-ups directly.
 */
export function noteCardSpend(
  state: State,
  shopper: Shopper,
  currency: string,
  dayAt: number,
  minor: bigint,
): void {
  const fp = guardOf(state, shopper).cardFingerprint;
  if (fp === null) return;
  const k = cardSpentKey(fp, currency, dayAt);
  const spent = (state.safety.cardSpent.get(k) ?? 0n) + minor;
  if (spent > 0n) state.safety.cardSpent.set(k, spent);
  else state.safety.cardSpent.delete(k);
}

/** A paid purchase: the shopper's history, for the unusual-amount check. */
export function notePaid(
  state: State,
  order: Pick<Order, 'shopperId' | 'currency' | 'amountMinor'>,
): void {
  if (order.shopperId === null) return;
  const k = `${order.shopperId}|${order.currency}`;
  const h = state.safety.history.get(k) ?? { count: 0, largest: 0n };
  h.count++;
  if (order.amountMinor > h.largest) h.largest = order.amountMinor;
  state.safety.history.set(k, h);
}

// ---------------------------------------------------------------------------------------------
// Step-up

/**
 * Puts an order on hold for the shopper's approval by e-mail: the reply says so, the e-mail carries
 * the approval link and the "not me" link; the order expires with its window like any checkout.
 */
export function askStepUp(
  out: Out,
  order: Order,
  offer: Offer,
  shopper: Shopper,
  reasons: StepUpReason[],
  title: string,
  lead: string,
  note: string,
): void {
  const windowMin = Math.max(1, Math.round(offer.windowMs / 60_000));
  order.status = 'awaiting_step_up';
  order.shopperId = shopper.id;
  out.fx.orders.add(order);
  const total = { minor: order.amountMinor, currency: order.currency };
  // No e-mail fallback: the approval link goes by e-mail anyway, just below.
  out.reply(
    order.network,
    order.postId,
    lead + replies.stepUp(title, total, windowMin) + note,
    null,
  );
  sendStepUp(out, order.id, shopper, reasons, total, (approve, notMe) =>
    emails.stepUp(title, total, windowMin, reasons, approve, notMe),
  );
}

/**
 * What every step-up asks, whatever waits (a purchase, a web payment, a payment by post): the e-mail
 * to the owner, worded by the flow (`mail`) around the signed approval and "not me" links, and the
 * audit entry. Setting the subject's status and answering the post stay with the flow.
 */
export function sendStepUp(
  out: LinkOut & {
    readonly fx: Effects;
    readonly entry: { at: number };
    email(to: string, message: { subject: string; text: string }): void;
  },
  subjectId: string,
  shopper: Shopper,
  reasons: StepUpReason[],
  amount: { minor: bigint; currency: string },
  mail: (approveLink: string, notMeLink: string) => { subject: string; text: string },
): void {
  out.email(shopper.email, mail(stepUpLink(out, subjectId), notMeLink(out, shopper.id)));
  audit(out.fx, out.entry.at, 'step_up.asked', 'engine', subjectId, {
    shopper_id: shopper.id,
    reasons,
    amount: amount.minor.toString(),
    currency: amount.currency,
  });
}

function ok(out: Out, status: number, body: unknown): void {
  out.fx.apiResults.push({ key: out.entry.key, status, body });
}

function fail(out: Out, code: ErrorCode, message: string, param?: string): void {
  out.fx.apiResults.push({
    key: out.entry.key,
    status: ERROR_STATUS[code],
    body: errorBody(code, message, param),
  });
}

/**
 * What a step-up link names, waiting for the shopper's approval: a purchase by hashtag (`ord_`), a
 * web payment — buy-now, cart, `#checkout`, pay with tagpay — of any number of orders (`pay_`), or a
 * payment by post. Each flow says who must approve it, until when, and what approving does; the
 * approval itself (expiry, frozen account, trust, audit) is decided once, here.
 */
export interface StepUpSubject {
  what: 'purchase' | 'payment';
  shopper: Shopper | undefined;
  expiresAt: number;
  /** Charges or sends it; or says why it can no longer be (then nothing happened). */
  approve(): string | null;
}

/** What decide.ts lends the safety commands, so this module never reaches into its internals. */
export interface SafetyHooks {
  /** The subject waiting for approval under this id, from whichever flow holds it; or null. */
  stepUpSubject(id: string): StepUpSubject | null;
  /** Ends a pending checkout, releasing its stock. */
  cancelPending(order: Order, failure: string): void;
  /** Ends what else of a frozen shopper waits (payments by post, web payments); answers their ids. */
  cancelOthers(shopper: Shopper): string[];
}

/**
 * A purchase by hashtag held for a step-up (askStepUp): approving charges it. An order of a web
 * payment is approved only with its payment (the link names the payment), never on its own.
 */
export function orderStepUpSubject(
  state: State,
  id: string,
  beginCharge: (order: Order) => void,
): StepUpSubject | null {
  const order = state.activeOrders.get(id);
  if (order === undefined || order.status !== 'awaiting_step_up') return null;
  for (const payment of state.checkout.payments.values())
    if (payment.status === 'awaiting_step_up' && payment.orderIds.includes(id)) return null;
  return {
    what: 'purchase',
    shopper: state.shoppers.get(handleKey(order.network, order.handle)),
    expiresAt: order.expiresAt,
    approve: () => {
      beginCharge(order);
      return null;
    },
  };
}

/** The commands of the fraud controls and API security. */
export function onSafetyCommand(
  state: State,
  out: Out,
  cmd: SafetyCommand,
  hooks: SafetyHooks,
): void {
  const at = out.entry.at;
  const actor = actorOf(out);
  switch (cmd.op) {
    case 'step_up.approve': {
      const subject = hooks.stepUpSubject(cmd.subjectId);
      const what = subject?.what ?? (/^(ord|pay)_/.test(cmd.subjectId) ? 'purchase' : 'payment');
      if (subject === null)
        return fail(
          out,
          'STEP_UP_NOT_PENDING',
          `This ${what} is no longer waiting for approval (approved, canceled or expired).`,
        );
      if (at > subject.expiresAt)
        return fail(out, 'STEP_UP_NOT_PENDING', `This ${what} expired before it was approved.`);
      const shopper = subject.shopper;
      if (shopper === undefined || guardOf(state, shopper).frozenAt !== null)
        return fail(out, 'STEP_UP_NOT_PENDING', 'This account is frozen.');
      const why = subject.approve();
      if (why !== null) return fail(out, 'STEP_UP_NOT_PENDING', why);
      const guard = guardOf(state, shopper);
      guard.trustedAt = at;
      out.fx.safety.guards.add(guard);
      audit(out.fx, at, 'step_up.passed', 'shopper', cmd.subjectId, { shopper_id: shopper.id });
      return ok(out, 200, { object: 'step_up', subject: cmd.subjectId, status: 'approved' });
    }
    case 'shopper.freeze':
    case 'shopper.unfreeze': {
      const key = handleKey(cmd.network, cmd.account);
      const shopper = state.shoppers.get(key);
      if (shopper === undefined) return fail(out, 'NOT_FOUND', 'No such shopper.');
      const guard = guardOf(state, shopper);
      out.fx.safety.guards.add(guard);
      if (cmd.op === 'shopper.unfreeze') {
        if (guard.frozenAt !== null) audit(out.fx, at, 'shopper.unfrozen', actor, shopper.id, {});
        guard.frozenAt = null;
        guard.frozenBy = null;
        return ok(out, 200, freezeView(shopper, guard));
      }
      if (guard.frozenAt === null) {
        guard.frozenAt = at;
        guard.frozenBy = cmd.by;
        const pending = pendingOf(state, key);
        for (const order of pending) hooks.cancelPending(order, 'frozen');
        const others = hooks.cancelOthers(shopper);
        audit(out.fx, at, 'shopper.frozen', cmd.by === 'shopper' ? 'shopper' : actor, shopper.id, {
          by: cmd.by,
          canceled: [...pending.map((o) => o.id), ...others],
        });
        out.email(shopper.email, emails.frozen(shopper.handle));
      }
      return ok(out, 200, freezeView(shopper, guard));
    }
    case 'merchant.set_verified': {
      const merchant = state.merchants.get(cmd.merchantId);
      if (merchant === undefined) return fail(out, 'NOT_FOUND', `No merchant ${cmd.merchantId}.`);
      if (merchant.verified !== cmd.verified) {
        merchant.verified = cmd.verified;
        out.fx.merchants.add(merchant);
        audit(
          out.fx,
          at,
          cmd.verified ? 'merchant.verified' : 'merchant.unverified',
          actor,
          merchant.id,
        );
      }
      return ok(out, 200, merchantView(merchant));
    }
    case 'api_key.create': {
      const merchant = state.merchants.get(cmd.merchantId);
      if (merchant === undefined)
        return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
      out.fx.apiKeys.push({
        hash: cmd.keyHash,
        merchantId: merchant.id,
        at,
        scopes: cmd.scopes,
        name: cmd.name,
      });
      audit(out.fx, at, 'api_key.created', actor, keyIdOf(cmd.keyHash), {
        merchant_id: merchant.id,
        scopes: cmd.scopes,
      });
      return ok(out, 201, {
        id: keyIdOf(cmd.keyHash),
        object: 'api_key',
        name: cmd.name,
        scopes: cmd.scopes,
        created_at: new Date(at).toISOString(),
        last_used_at: null,
        revoked_at: null,
      });
    }
    case 'api_key.revoke': {
      out.fx.safety.revokeKeyIds.push({ merchantId: cmd.merchantId, id: cmd.keyId, at });
      audit(out.fx, at, 'api_key.revoked', actor, cmd.keyId, { merchant_id: cmd.merchantId });
      return ok(out, 200, {
        id: cmd.keyId,
        object: 'api_key',
        revoked_at: new Date(at).toISOString(),
      });
    }
    case 'merchant.rotate_webhook_secret': {
      const merchant = state.merchants.get(cmd.merchantId);
      if (merchant === undefined)
        return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
      const keepMs = Math.min(Math.max(0, cmd.previousForMs), WEBHOOK_SECRET_OVERLAP_MS_MAX);
      merchant.webhookSecretPrevious = keepMs > 0 ? merchant.webhookSecret : null;
      merchant.webhookPreviousUntil = keepMs > 0 ? at + keepMs : null;
      merchant.webhookSecret = cmd.secret;
      out.fx.merchants.add(merchant);
      audit(out.fx, at, 'webhook_secret.rotated', actor, merchant.id, {
        previous_until: merchant.webhookPreviousUntil,
      });
      return ok(out, 200, webhookSecretView(merchant));
    }
    case 'merchant.retire_webhook_secret': {
      const merchant = state.merchants.get(cmd.merchantId);
      if (merchant === undefined)
        return fail(out, 'FORBIDDEN', 'The merchant of this key no longer exists.');
      if (merchant.webhookSecretPrevious !== null)
        audit(out.fx, at, 'webhook_secret.previous_retired', actor, merchant.id);
      merchant.webhookSecretPrevious = null;
      merchant.webhookPreviousUntil = null;
      out.fx.merchants.add(merchant);
      return ok(out, 200, webhookSecretView(merchant));
    }
  }
}

/** An API key's public id, derived from its hash (the key itself is never kept). */
export function keyIdOf(hash: string): string {
  return `key_${hash.slice(0, 20)}`;
}

export { API_KEYS_PER_MERCHANT_MAX };

function freezeView(shopper: Shopper, guard: Guard) {
  return {
    object: 'shopper_status',
    shopper_id: shopper.id,
    network: shopper.network,
    handle: shopper.handle,
    frozen: guard.frozenAt !== null,
    frozen_at: guard.frozenAt === null ? null : new Date(guard.frozenAt).toISOString(),
    frozen_by: guard.frozenBy,
  };
}

function webhookSecretView(m: State['merchants'] extends Map<string, infer M> ? M : never) {
  return {
    object: 'webhook_secret',
    merchant_id: m.id,
    previous_until:
      m.webhookPreviousUntil === null ? null : new Date(m.webhookPreviousUntil).toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Persistence

const GUARD_COLUMNS: Column[] = [
  ['shopper_id', 'text'],
  ['network', 'text'],
  ['account', 'text'],
  ['handle', 'text'],
  ['card_fingerprint', 'text'],
  ['linked_at', 'bigint'],
  ['cool_down_until', 'bigint'],
  ['address_changed_at', 'bigint'],
  ['owner_changed_at', 'bigint'],
  ['step_up_above_minor', 'bigint'],
  ['step_up_currency', 'text'],
  ['frozen_at', 'bigint'],
  ['frozen_by', 'text'],
  ['trusted_at', 'bigint'],
];

/** Writes the batch's safety effects in its transaction (called by commit.ts). */
export async function commitSafety(tx: Sql, fx: Effects, state?: State): Promise<void> {
  await upsertRows(
    tx,
    'shopper_guards',
    GUARD_COLUMNS,
    [...fx.safety.guards].map((g) => [
      g.shopperId,
      g.network,
      g.account,
      g.handle,
      g.cardFingerprint,
      g.linkedAt,
      g.coolDownUntil,
      g.addressChangedAt,
      g.ownerChangedAt,
      g.stepUpAboveMinor,
      g.stepUpCurrency,
      g.frozenAt,
      g.frozenBy,
      g.trustedAt,
    ]),
    'shopper_id',
  );
  // A plain INSERT: the table's rules (append-only) rule out ON CONFLICT.
  await upsertRows(
    tx,
    'audit_log',
    [
      ['at', 'bigint'],
      ['action', 'text'],
      ['actor', 'text'],
      ['subject', 'text'],
      ['detail', 'text'],
    ],
    fx.safety.audit.map((a) => [a.at, a.action, a.actor, a.subject, JSON.stringify(a.detail)]),
  );
  const counters = [...fx.safety.wrongCodes].flatMap((key) => {
    const c = state?.wrongCodes.get(key);
    return c === undefined ? [] : [[key, c.since, c.count, c.pausedUntil]];
  });
  await upsertRows(
    tx,
    'wrong_codes',
    [
      ['handle_key', 'text'],
      ['since', 'bigint'],
      ['count', 'int'],
      ['paused_until', 'bigint'],
    ],
    counters,
    'handle_key',
  );
  if (fx.safety.revokeKeyIds.length > 0) {
    await tx.query(
      `UPDATE api_keys k SET revoked_at = u.at
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(merchant_id, id, at)
       WHERE k.merchant_id = u.merchant_id AND k.id = u.id AND k.revoked_at IS NULL`,
      [
        fx.safety.revokeKeyIds.map((r) => r.merchantId),
        fx.safety.revokeKeyIds.map((r) => r.id),
        fx.safety.revokeKeyIds.map((r) => r.at),
      ],
    );
  }
}

type Row = Record<string, unknown>;
const nOrNull = (v: unknown) => (v === null || v === undefined ? null : num(v));

/** Rebuilds the safety state from the tables (called by load.ts); `lastAt` is the log's last time. */
export async function loadSafety(db: Sql, state: State, lastAt: number): Promise<void> {
  for (const r of (await db.query<Row>('SELECT * FROM shopper_guards')).rows) {
    const key = handleKey(r.network as string, r.account as string);
    state.safety.guards.set(key, {
      shopperId: r.shopper_id as string,
      network: r.network as string,
      account: r.account as string,
      handle: r.handle as string,
      cardFingerprint: (r.card_fingerprint as string | null) ?? null,
      linkedAt: num(r.linked_at),
      coolDownUntil: nOrNull(r.cool_down_until),
      addressChangedAt: nOrNull(r.address_changed_at),
      ownerChangedAt: nOrNull(r.owner_changed_at),
      stepUpAboveMinor: r.step_up_above_minor === null ? null : big(r.step_up_above_minor),
      stepUpCurrency: (r.step_up_currency as string | null) ?? null,
      frozenAt: nOrNull(r.frozen_at),
      frozenBy: (r.frozen_by as string | null) ?? null,
      trustedAt: num(r.trusted_at ?? 0),
    });
  }
  for (const r of (
    await db.query<Row>('SELECT network, handle, account FROM shoppers ORDER BY updated_at')
  ).rows) {
    state.safety.handleOwner.set(
      `${r.network as string}:${(r.handle as string).toLowerCase()}`,
      r.account as string,
    );
  }
  const recent = await db.query<Row>(
    `SELECT o.network, o.handle, o.created_at, g.card_fingerprint, o.id FROM orders o
     LEFT JOIN shopper_guards g ON g.shopper_id = o.shopper_id
     WHERE o.shopper_id IS NOT NULL AND o.created_at > $1
     UNION ALL
     SELECT p.network, p.account, p.created_at, g.card_fingerprint, p.id FROM payments p
     LEFT JOIN shopper_guards g ON g.shopper_id = p.shopper_id
     WHERE p.kind = 'oauth' AND p.created_at > $1
     ORDER BY 3, 5`,
    [lastAt - HOUR_MS],
  );
  for (const r of recent.rows) {
    const keys = [`h|${handleKey(r.network as string, r.handle as string)}`];
    if (r.card_fingerprint !== null) keys.push(`c|${r.card_fingerprint as string}`);
    for (const k of keys) {
      const times = state.safety.recent.get(k) ?? [];
      times.push(num(r.created_at));
      state.safety.recent.set(k, times);
    }
  }
  const charged = await db.query<Row>(
    `SELECT g.card_fingerprint AS fp, o.currency, floor(o.created_at / ${DAY_MS})::bigint AS day,
       sum(o.amount_minor)::text AS s
     FROM (SELECT shopper_id, currency, created_at, amount_minor, status FROM orders
           UNION ALL SELECT shopper_id, currency, created_at, amount_minor, status FROM payments
           WHERE kind = 'oauth') o
     JOIN shopper_guards g ON g.shopper_id = o.shopper_id
     WHERE g.card_fingerprint IS NOT NULL AND o.created_at >= $1
       AND o.status IN ('charging', 'paid', 'refunding', 'refunded')
     GROUP BY 1, 2, 3`,
    [lastAt - 2 * DAY_MS],
  );
  for (const r of charged.rows) {
    state.safety.cardSpent.set(
      cardSpentKey(r.fp as string, r.currency as string, num(r.day) * DAY_MS),
      big(r.s),
    );
  }
  const history = await db.query<Row>(
    `SELECT shopper_id, currency, count(*)::int AS n, max(amount_minor)::text AS largest FROM (
       SELECT shopper_id, currency, amount_minor, status FROM orders
       UNION ALL SELECT shopper_id, currency, amount_minor, status FROM payments WHERE kind = 'oauth') o
     WHERE shopper_id IS NOT NULL AND status IN ('paid', 'refunding', 'refunded') GROUP BY 1, 2`,
  );
  for (const r of history.rows) {
    state.safety.history.set(`${r.shopper_id as string}|${r.currency as string}`, {
      count: num(r.n),
      largest: big(r.largest),
    });
  }
  const wrong = await db.query<Row>(
    'SELECT * FROM wrong_codes WHERE paused_until > $1 OR since > $2 ORDER BY since',
    [lastAt, lastAt - DAY_MS],
  );
  for (const r of wrong.rows) {
    state.wrongCodes.set(r.handle_key as string, {
      since: num(r.since),
      count: num(r.count),
      pausedUntil: num(r.paused_until),
    });
  }
}
