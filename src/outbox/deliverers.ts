import { createHmac } from 'node:crypto';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import {
  CHARGE_ATTEMPTS_MAX,
  CHARGE_RETRY_BASE_MS,
  DELIVERY_ATTEMPTS_MAX,
  DELIVERY_RETRY_BASE_MS,
  REPLY_EMAIL_FALLBACK_MS,
  REPLY_POST_ATTEMPTS_MAX,
  WEBHOOK_ATTEMPTS_MAX,
  WEBHOOK_RETRY_BASE_MS,
  WEBHOOK_TIMEOUT_MS,
} from '../core/limits.ts';
import type { ChargeResultEvent } from '../engine/events.ts';
import type { Clock, InputLog } from '../engine/log.ts';
import { PostDelayedError, type NetworkClient } from '../networks/network.ts';
import type { CardProcessor } from '../processors/processor.ts';
import type { Db } from '../store/db.ts';
import { emails } from '../core/replies.ts';
import { webhookTargetProblem } from './ssrf.ts';
import { backoffMs, oneByOne, type Deliverer, type Delivery, type OutboxItem } from './worker.ts';

function retryOr(item: OutboxItem, max: number, baseMs: number, error: string) {
  return {
    done: false as const,
    error,
    retryInMs: item.attempt >= max ? null : backoffMs(baseMs, item.attempt),
  };
}

/** One e-mail, sent once per key: the Message-ID on SMTP, a unique key in the local mailbox. */
export type SendEmail = (
  key: string,
  message: { to: string; subject: string; text: string },
) => Promise<void>;

/** E-mail through SMTP when configured, otherwise into the local mailbox (visible in the API). */
export function emailSender(
  db: Db,
  clock: Clock,
  smtp: Transporter | null,
  from: string,
): SendEmail {
  return async (key, message) => {
    if (smtp) {
      await smtp.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        messageId: `<${key.replace(/[^A-Za-z0-9._-]/g, '.')}@tagpay>`,
      });
    } else {
      await db.query(
        'INSERT INTO mailbox (key, to_addr, subject, body, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING',
        [key, message.to, message.subject, message.text, clock.now()],
      );
    }
  };
}

interface PostBody {
  network: string;
  as: string;
  text: string;
  reply_to: string | null;
  /** A direct message to the accounts the text mentions (Mastodon's `visibility: direct`). */
  direct?: boolean;
  /**
   * The shopper answered, e-mailed the same message instead when the reply cannot go out in time.
   * Rows carry only the address, worded here from the reply (emails.replyByEmail); rows written
   * before that carry the subject and text too, and are sent as written.
   */
  email_fallback?: { to: string; subject?: string; text?: string };
  /** Set on an offer's own post: its post id goes back into the log so `#cart` replies name the offer. */
  offer_id?: string;
}

/**
 * Replies and posts, through the network named in the row. A reply to a linked shopper that would
 * wait longer than REPLY_EMAIL_FALLBACK_MS (the account's token bucket or the network's rate limit),
 * whose network is not connected, or that failed REPLY_POST_ATTEMPTS_MAX times, goes to the shopper
 * by e-mail instead, once (the e-mail's key is the row's), and the row is done: it is never posted
 * late as well. An offer post's id goes back into the log (`posted:<row key>`), so a `#cart` reply
 * to it names the offer.
 */
export function postDeliverer(
  networks: Map<string, NetworkClient>,
  sendEmail: SendEmail,
  logger?: Logger,
  log?: InputLog,
): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as PostBody;
    const network = networks.get(body.network);
    const byEmail = async (why: string): Promise<Delivery> => {
      const fallback = body.email_fallback!;
      await sendEmail(`${item.key}:email`, {
        ...emails.replyByEmail(body.network, body.text),
        ...fallback,
      });
      logger?.warn({ key: item.key, network: body.network, why }, 'reply sent by e-mail instead');
      return { done: true };
    };
    if (!network) {
      if (body.email_fallback) return byEmail('network not connected');
      return { done: false, error: `network ${body.network} is not connected`, retryInMs: null };
    }
    try {
      const posted = await network.post({
        as: body.as,
        text: body.text,
        replyTo: body.reply_to,
        idempotencyKey: item.key,
        ...(body.direct === true && { direct: true }),
      });
      if (body.offer_id !== undefined && log !== undefined) {
        await log.append([
          {
            key: `posted:${item.key}`,
            body: {
              kind: 'offer_posted',
              offerId: body.offer_id,
              network: body.network,
              postId: posted.postId,
            },
          },
        ]);
      }
      return { done: true };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const waitMs = error instanceof PostDelayedError ? error.waitMs : null;
      if (body.email_fallback) {
        if (waitMs !== null && waitMs > REPLY_EMAIL_FALLBACK_MS)
          return byEmail(`would wait ${waitMs} ms: ${message}`);
        if (item.attempt >= REPLY_POST_ATTEMPTS_MAX)
          return byEmail(`failed ${item.attempt} times: ${message}`);
      }
      // A known wait is waited, not guessed with backoff.
      if (waitMs !== null && item.attempt < DELIVERY_ATTEMPTS_MAX)
        return { done: false, error: message, retryInMs: waitMs };
      return retryOr(item, DELIVERY_ATTEMPTS_MAX, DELIVERY_RETRY_BASE_MS, message);
    }
  });
}

/** E-mails; a repeat of a row is one message (see SendEmail). */
export function emailDeliverer(sendEmail: SendEmail): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as { to: string; subject: string; text: string };
    try {
      await sendEmail(item.key, body);
      return { done: true };
    } catch (error) {
      return retryOr(
        item,
        DELIVERY_ATTEMPTS_MAX,
        DELIVERY_RETRY_BASE_MS,
        error instanceof Error ? error.message : String(error),
      );
    }
  });
}

/**
 * Card charges: authorize then capture with idempotency keys derived from the order, then the result
 * goes back into the input log as an event keyed by the order, so the engine hears it exactly once.
 * A processor error is retried with backoff; after the last attempt the charge is reversed (an
 * earlier attempt that timed out may have gone through) and only then does the order fail.
 */
export function chargeDeliverer(processor: CardProcessor, log: InputLog): Deliverer {
  return async (items) => {
    const bodies = items.map(
      (item) =>
        item.body as {
          order_id: string;
          card_token: string;
          amount: string;
          currency: string;
          description: string;
        },
    );
    const requests = bodies.map((b) => ({
      token: b.card_token,
      amountMinor: BigInt(b.amount),
      currency: b.currency,
      description: b.description,
      idempotencyKey: `${b.order_id}:charge`,
    }));
    const outcomes = await processor.chargeMany(requests);
    const results: { key: string; body: ChargeResultEvent }[] = [];
    const deliveries: Delivery[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const item = items[i]!;
      const orderId = bodies[i]!.order_id;
      if (!outcome.ok && outcome.retryable) {
        const retry = {
          done: false as const,
          error: outcome.message,
          retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
        };
        if (item.attempt < CHARGE_ATTEMPTS_MAX) {
          deliveries.push(retry);
          continue;
        }
        // Giving up. If an earlier delivery of this row already put its result in the log (it
        // crashed between the log append and marking the row done), the engine has heard the
        // outcome: a charge it was told succeeded must stay, so nothing is reversed and the row is
        // done (reversing it left an order paid with its charge reversed: simulation seed 20261127).
        if ((await log.findByKey(`charge:${orderId}`)) !== null) {
          deliveries.push({ done: true });
          continue;
        }
        // Otherwise the card must not stay charged by an attempt whose answer was lost.
        const reversed = await processor.reverse(requests[i]!).catch(() => ({ ok: false }));
        if (!reversed.ok) {
          deliveries.push(retry);
          continue;
        }
      }
      results.push({
        key: `charge:${orderId}`,
        body: outcome.ok
          ? { kind: 'charge_result', orderId, ok: true, reason: null, chargeId: outcome.chargeId }
          : { kind: 'charge_result', orderId, ok: false, reason: outcome.reason, chargeId: null },
      });
      deliveries.push({ done: true });
    }
    // The results enter the log before the rows are marked done: a crash in between repeats the
    // charges under the same keys (no second charge) and the repeated results are dropped at the door.
    await log.append(results);
    return deliveries;
  };
}

/** The mark, in an outbox row's last error, of a try whose outcome is not known. */
const UNKNOWN_OUTCOME = 'outcome unknown:';

/** Refunds through the processor; the result comes back into the log as `refund:<order>:<attempt>`. */
export function refundDeliverer(processor: CardProcessor, log: InputLog): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as {
      order_id: string;
      attempt: string;
      charge_id: string;
      amount: string;
      /** The card's part when it is less than the refund (the rest goes back to a wallet). */
      card_amount?: string;
      restock: boolean;
      restock_quantity?: number;
    };
    const key = `${body.order_id}:refund:${body.attempt}`;
    // Delivered again after its result reached the log (killed before the row was marked done): the
    // engine has acted on that result, so the processor is not asked again. Asking again could make
    // a refund the log already calls failed (given up after errors), and its success would then be
    // dropped as a second result (simulation seed 20261127: a card refunded, the order not).
    if ((await log.findByKey(`refund:${body.order_id}:${body.attempt}`)) !== null)
      return { done: true };
    let outcome;
    try {
      outcome = await processor.refund(
        body.charge_id,
        BigInt(body.card_amount ?? body.amount),
        key,
      );
    } catch (error) {
      // No answer (a timeout): the refund may have been made. From now on this refund is retried
      // until the processor answers it, never given up, or the order would say paid with the money
      // back on the card.
      return {
        done: false,
        error: `${UNKNOWN_OUTCOME} ${error instanceof Error ? error.message : String(error)}`,
        retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
      };
    }
    const unknown = item.lastError?.startsWith(UNKNOWN_OUTCOME) === true;
    if (!outcome.ok && (item.attempt < CHARGE_ATTEMPTS_MAX || unknown)) {
      return {
        done: false,
        error: `${unknown ? UNKNOWN_OUTCOME + ' ' : ''}${outcome.message ?? 'refund failed'}`,
        retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
      };
    }
    if (!outcome.ok) {
      // Giving up: unless an earlier attempt did refund the card and its answer was lost. A timeout
      // marks the row (above), but a kill right after the processor's work leaves no mark, so the
      // processor is asked (simulation seed 20261127: a refund made, then given up as failed, left
      // the card refunded and the order paid). No answer to that either: try again later.
      const found = await processor.findRefund(body.charge_id, key).catch(() => undefined);
      if (found === undefined)
        return {
          done: false,
          error: `${UNKNOWN_OUTCOME} ${outcome.message ?? 'refund failed'}; the refund could not be looked up`,
          retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
        };
      if (found !== null) outcome = { ok: true, refundId: found.refundId };
    }
    await log.append([
      {
        key: `refund:${body.order_id}:${body.attempt}`,
        body: {
          kind: 'refund_result',
          orderId: body.order_id,
          ok: outcome.ok,
          refundId: outcome.refundId ?? null,
          restock: body.restock,
          error: outcome.ok ? null : (outcome.message ?? 'refund failed'),
          amountMinor: body.amount,
          ...(body.restock_quantity !== undefined && { restockQuantity: body.restock_quantity }),
        },
      },
    ]);
    return { done: true };
  });
}

/**
 * Stripe's signature scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">`, one `v1` per
 * secret in use (two while a rotated-out secret is still honoured). Receivers check it with
 * `verifyWebhook` (src/webhooks/verify.ts).
 */
export function signWebhook(
  secret: string | readonly string[],
  payload: string,
  unixSeconds: number,
): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const v1 = secrets.map(
    (s) => `v1=${createHmac('sha256', s).update(`${unixSeconds}.${payload}`).digest('hex')}`,
  );
  return [`t=${unixSeconds}`, ...v1].join(',');
}

/** Signed webhooks to merchants; the event id lets the receiver drop a repeat. */
export function webhookDeliverer(db: Db, clock: Clock, allowPrivate: boolean): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as { merchant_id: string; url: string; event: { id: string } };
    const refused = await webhookTargetProblem(body.url, allowPrivate);
    if (refused !== null)
      return { done: false, error: `target refused: ${refused}`, retryInMs: null };
    const { rows } = await db.query<{
      webhook_secret: string;
      webhook_secret_previous: string | null;
      webhook_previous_until: unknown;
    }>(
      'SELECT webhook_secret, webhook_secret_previous, webhook_previous_until FROM merchants WHERE id = $1',
      [body.merchant_id],
    );
    if (!rows[0]) return { done: false, error: 'merchant not found', retryInMs: null };
    const secrets = [rows[0].webhook_secret];
    if (
      rows[0].webhook_secret_previous !== null &&
      Number(rows[0].webhook_previous_until) > clock.now()
    )
      secrets.push(rows[0].webhook_secret_previous);
    const payload = JSON.stringify(body.event);
    const send = () =>
      fetch(body.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'tagpay-signature': signWebhook(secrets, payload, Math.floor(clock.now() / 1000)),
          'idempotency-key': body.event.id,
        },
        body: payload,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        redirect: 'manual',
      });
    try {
      let response: Response;
      try {
        response = await send();
      } catch (error) {
        // A kept-alive connection the receiver closed while idle fails before any answer: sent again
        // at once on a new connection (the event id is its idempotency key), not after a backoff.
        if (!isStaleConnection(error)) throw error;
        response = await send();
      }
      await response.body?.cancel();
      if (response.ok) return { done: true };
      return retryOr(item, WEBHOOK_ATTEMPTS_MAX, WEBHOOK_RETRY_BASE_MS, `HTTP ${response.status}`);
    } catch (error) {
      return retryOr(
        item,
        WEBHOOK_ATTEMPTS_MAX,
        WEBHOOK_RETRY_BASE_MS,
        error instanceof Error ? error.message : String(error),
      );
    }
  });
}

const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** A request that failed because its reused connection was already closed by the other side. */
function isStaleConnection(error: unknown): boolean {
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' && STALE_CONNECTION_CODES.has(cause.code);
}
