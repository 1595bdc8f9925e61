import type { DeclineReason } from '../core/replies.ts';

/** What a card token stands for; the card number itself never reaches tagpay's tables. */
export interface CardInfo {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /**
   * The same card number gives the same fingerprint, whatever the token (Stripe's
   * `card.fingerprint`): a keyed hash made by the processor, never the number.
   */
  fingerprint?: string;
}

export type ChargeOutcome =
  | { ok: true; chargeId: string }
  | { ok: false; reason: DeclineReason; retryable: false }
  | { ok: false; reason: 'processor_error'; retryable: true; message: string };

export interface ChargeRequest {
  token: string;
  amountMinor: bigint;
  currency: string;
  description: string;
  /** The same key gives the same charge, however often it is sent (Stripe's Idempotency-Key). */
  idempotencyKey: string;
}

/** One interface for every card processor (sandbox, Stripe): authorize, capture, refund. */
export interface CardProcessor {
  readonly name: string;
  describe(token: string): Promise<CardInfo | null>;
  authorize(req: ChargeRequest): Promise<ChargeOutcome>;
  capture(chargeId: string, idempotencyKey: string): Promise<ChargeOutcome>;
  /**
   * Authorizes and captures many charges, each under its own idempotency key; outcomes in request
   * order. A processor without a batch API runs the pairs concurrently.
   */
  chargeMany(requests: ChargeRequest[]): Promise<ChargeOutcome[]>;
  /**
   * Undoes whatever a charge request under this idempotency key did, and makes the key unusable: the
   * card networks' timeout reversal. Sent before an order is failed after processor errors, because
   * an earlier attempt whose answer was lost (a timeout) may have charged the card.
   */
  reverse(req: ChargeRequest): Promise<{ ok: boolean; message?: string }>;
  refund(
    chargeId: string,
    amountMinor: bigint,
    idempotencyKey: string,
  ): Promise<{ ok: boolean; refundId?: string; message?: string }>;
  /**
   * The refund made under this idempotency key on this charge, if any (null: none was made). Asked
   * before a refund is given up after errors: an earlier attempt whose answer was lost — a timeout,
   * or tagpay killed after the processor did it — may have refunded the card. (Stripe: the charge's
   * refunds, matched by the key carried in their metadata.)
   */
  findRefund(chargeId: string, idempotencyKey: string): Promise<{ refundId: string } | null>;
  /**
   * A statement credit to a card (a card-linked offer's reward), or its reversal; the same key is the
   * same credit however often it is sent.
   */
  statementCredit(
    token: string,
    amountMinor: bigint,
    currency: string,
    kind: 'credit' | 'reverse',
    idempotencyKey: string,
  ): Promise<{ ok: boolean; creditId?: string; message?: string }>;
}
