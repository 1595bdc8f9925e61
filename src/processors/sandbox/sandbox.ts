import { createHmac, randomBytes } from 'node:crypto';
import { newId } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import type { Clock } from '../../engine/log.ts';
import type { Db } from '../../store/db.ts';
import { big, num } from '../../store/db.ts';
import type { CardInfo, CardProcessor, ChargeOutcome, ChargeRequest } from '../processor.ts';

type Behavior = 'success' | 'card_declined' | 'insufficient_funds' | 'processor_error';

/** The published test cards (Stripe's numbers, so they are familiar). Any other valid number succeeds. */
export const TEST_CARDS: Readonly<Record<string, Behavior>> = {
  '4242424242424242': 'success',
  '5555555555554444': 'success',
  '4000000000000002': 'card_declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000119': 'processor_error',
};

export function luhnValid(number: string): boolean {
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = number.charCodeAt(number.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function brandOf(number: string): string {
  if (number.startsWith('4')) return 'visa';
  if (/^5[1-5]/.test(number) || /^2[2-7]/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  if (/^6(011|5)/.test(number)) return 'discover';
  return 'unknown';
}

export interface CardInput {
  number: string;
  exp_month: number;
  exp_year: number;
  cvc: string;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

/**
 * The in-process sandbox processor: tokenization, authorize, capture and refund against test cards,
 * kept in its own tables as if it were another company's system. The card number and CVC are checked
 * and dropped: only the brand, the last four digits, the expiry and the test behaviour are kept.
 */
export class SandboxProcessor implements CardProcessor {
  readonly name = 'sandbox';

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  private fingerprintKey: Promise<string> | null = null;

  /**
   * HMAC-SHA256 of the card number under the sandbox's own key (made at first use, kept in the
   * settings table as if in another company's vault): a fingerprint cannot be turned back into a
   * number by trying the few billion numbers of a BIN, as a plain hash could.
   */
  private async fingerprint(number: string): Promise<string> {
    this.fingerprintKey ??= (async () => {
      await this.db.query(
        "INSERT INTO settings (name, value) VALUES ('sandbox_fingerprint_key', $1) ON CONFLICT (name) DO NOTHING",
        [randomBytes(32).toString('hex')],
      );
      const { rows } = await this.db.query<{ value: string }>(
        "SELECT value FROM settings WHERE name = 'sandbox_fingerprint_key'",
      );
      return rows[0]!.value;
    })();
    const key = await this.fingerprintKey.catch((error: unknown) => {
      this.fingerprintKey = null;
      throw error;
    });
    return 'fp_' + createHmac('sha256', key).update(number).digest('base64url').slice(0, 22);
  }

  async tokenize(card: CardInput): Promise<{ id: string } & CardInfo> {
    const number = card.number.replace(/[\s-]/g, '');
    if (!/^[0-9]{12,19}$/.test(number) || !luhnValid(number)) {
      throw new TagpayError('INVALID_CARD', 'The card number is not valid.', 'number');
    }
    if (!/^[0-9]{3,4}$/.test(card.cvc))
      throw new TagpayError('INVALID_CARD', 'The CVC must be 3 or 4 digits.', 'cvc');
    const now = new Date(this.clock.now());
    const year = card.exp_year < 100 ? 2000 + card.exp_year : card.exp_year;
    if (
      year < now.getUTCFullYear() ||
      (year === now.getUTCFullYear() && card.exp_month < now.getUTCMonth() + 1)
    ) {
      throw new TagpayError('CARD_EXPIRED', 'The card has expired.', 'exp_year');
    }
    const info: CardInfo = {
      brand: brandOf(number),
      last4: number.slice(-4),
      expMonth: card.exp_month,
      expYear: year,
      fingerprint: await this.fingerprint(number),
    };
    const id = newId('tok', random);
    await this.db.query(
      'INSERT INTO sandbox_tokens (id, brand, last4, exp_month, exp_year, behavior, created_at, fingerprint) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)',
      [
        id,
        info.brand,
        info.last4,
        info.expMonth,
        info.expYear,
        TEST_CARDS[number] ?? 'success',
        this.clock.now(),
        info.fingerprint,
      ],
    );
    return { id, ...info };
  }

  async describe(token: string): Promise<CardInfo | null> {
    const row = (
      await this.db.query<Record<string, unknown>>('SELECT * FROM sandbox_tokens WHERE id = $1', [
        token,
      ])
    ).rows[0];
    if (!row) return null;
    return {
      brand: row.brand as string,
      last4: row.last4 as string,
      expMonth: num(row.exp_month),
      expYear: num(row.exp_year),
      ...(row.fingerprint !== null && { fingerprint: row.fingerprint as string }),
    };
  }

  async authorize(req: ChargeRequest): Promise<ChargeOutcome> {
    const token = (
      await this.db.query<Record<string, unknown>>('SELECT * FROM sandbox_tokens WHERE id = $1', [
        req.token,
      ])
    ).rows[0];
    if (!token) return { ok: false, reason: 'card_declined', retryable: false };
    const behavior = token.behavior as Behavior;
    // A processor error happens before anything is recorded, as a timeout would: the retry decides.
    if (behavior === 'processor_error') {
      return {
        ok: false,
        reason: 'processor_error',
        retryable: true,
        message: 'sandbox: simulated processor error',
      };
    }
    const now = new Date(this.clock.now());
    const expYear = num(token.exp_year);
    const expired =
      expYear < now.getUTCFullYear() ||
      (expYear === now.getUTCFullYear() && num(token.exp_month) < now.getUTCMonth() + 1);
    const status = expired ? 'card_expired' : behavior === 'success' ? 'authorized' : behavior;
    await this.db.query(
      `INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (idem_key) DO NOTHING`,
      [
        newId('ch', random),
        req.idempotencyKey,
        req.token,
        req.amountMinor.toString(),
        req.currency,
        status,
        this.clock.now(),
      ],
    );
    const charge = (
      await this.db.query<{ id: string; status: string }>(
        'SELECT id, status FROM sandbox_charges WHERE idem_key = $1',
        [req.idempotencyKey],
      )
    ).rows[0]!;
    if (charge.status === 'authorized' || charge.status === 'captured')
      return { ok: true, chargeId: charge.id };
    return {
      ok: false,
      reason: charge.status as 'card_declined' | 'insufficient_funds' | 'card_expired',
      retryable: false,
    };
  }

  async chargeMany(requests: ChargeRequest[]): Promise<ChargeOutcome[]> {
    if (requests.length === 0) return [];
    const now = new Date(this.clock.now());
    const keys = requests.map((r) => r.idempotencyKey);
    // Authorize all in one statement; a processor error records nothing, as a timeout would.
    await this.db.query(
      `INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at)
       SELECT u.id, u.k, u.tok, u.amount, u.currency,
         CASE WHEN t.id IS NULL THEN 'card_declined'
              WHEN t.exp_year * 100 + t.exp_month < $6 THEN 'card_expired'
              WHEN t.behavior = 'success' THEN 'authorized' ELSE t.behavior END,
         $7
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) AS u(id, k, tok, amount, currency)
       LEFT JOIN sandbox_tokens t ON t.id = u.tok
       WHERE t.behavior IS DISTINCT FROM 'processor_error'
       ON CONFLICT (idem_key) DO NOTHING`,
      [
        requests.map(() => newId('ch', random)),
        keys,
        requests.map((r) => r.token),
        requests.map((r) => r.amountMinor.toString()),
        requests.map((r) => r.currency),
        now.getUTCFullYear() * 100 + now.getUTCMonth() + 1,
        this.clock.now(),
      ],
    );
    await this.db.query(
      "UPDATE sandbox_charges SET status = 'captured' WHERE idem_key = ANY($1::text[]) AND status = 'authorized'",
      [keys],
    );
    const { rows } = await this.db.query<{ id: string; idem_key: string; status: string }>(
      'SELECT id, idem_key, status FROM sandbox_charges WHERE idem_key = ANY($1::text[])',
      [keys],
    );
    const byKey = new Map(rows.map((r) => [r.idem_key, r]));
    return requests.map((r): ChargeOutcome => {
      const charge = byKey.get(r.idempotencyKey);
      if (!charge)
        return {
          ok: false,
          reason: 'processor_error',
          retryable: true,
          message: 'sandbox: simulated processor error',
        };
      if (charge.status === 'captured') return { ok: true, chargeId: charge.id };
      if (charge.status === 'reversed')
        return {
          ok: false,
          reason: 'processor_error',
          retryable: true,
          message: 'sandbox: charge reversed',
        };
      return { ok: false, reason: charge.status as 'card_declined', retryable: false };
    });
  }

  async reverse(req: ChargeRequest): Promise<{ ok: boolean }> {
    // A tombstone when nothing arrived, so a late copy of the request can never charge.
    await this.db.query(
      `INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at)
       VALUES ($1, $2, $3, $4, $5, 'reversed', $6)
       ON CONFLICT (idem_key) DO UPDATE SET status = 'reversed'
       WHERE sandbox_charges.status IN ('authorized', 'captured')`,
      [
        newId('ch', random),
        req.idempotencyKey,
        req.token,
        req.amountMinor.toString(),
        req.currency,
        this.clock.now(),
      ],
    );
    return { ok: true };
  }

  async capture(chargeId: string): Promise<ChargeOutcome> {
    const { rows } = await this.db.query<{ id: string }>(
      "UPDATE sandbox_charges SET status = 'captured' WHERE id = $1 AND status IN ('authorized', 'captured') RETURNING id",
      [chargeId],
    );
    return rows[0]
      ? { ok: true, chargeId }
      : { ok: false, reason: 'card_declined', retryable: false };
  }

  async refund(chargeId: string, amountMinor: bigint, idempotencyKey: string) {
    return this.db.transaction(async (tx) => {
      const done = (
        await tx.query<{ id: string }>('SELECT id FROM sandbox_refunds WHERE idem_key = $1', [
          idempotencyKey,
        ])
      ).rows[0];
      if (done) return { ok: true, refundId: done.id };
      const charge = (
        await tx.query<Record<string, unknown>>(
          "SELECT * FROM sandbox_charges WHERE id = $1 AND status = 'captured' FOR UPDATE",
          [chargeId],
        )
      ).rows[0];
      if (!charge) return { ok: false, message: 'no captured charge' };
      if (big(charge.refunded_minor) + amountMinor > big(charge.amount_minor))
        return { ok: false, message: 'refund exceeds charge' };
      const id = newId('re', random);
      await tx.query(
        'INSERT INTO sandbox_refunds (id, idem_key, charge_id, amount_minor, created_at) VALUES ($1,$2,$3,$4,$5)',
        [id, idempotencyKey, chargeId, amountMinor.toString(), this.clock.now()],
      );
      await tx.query(
        'UPDATE sandbox_charges SET refunded_minor = refunded_minor + $2 WHERE id = $1',
        [chargeId, amountMinor.toString()],
      );
      return { ok: true, refundId: id };
    });
  }

  async findRefund(chargeId: string, idempotencyKey: string) {
    const { rows } = await this.db.query<{ id: string }>(
      'SELECT id FROM sandbox_refunds WHERE idem_key = $1 AND charge_id = $2',
      [idempotencyKey, chargeId],
    );
    return rows[0] ? { refundId: rows[0].id } : null;
  }

  /**
   * Pays money out to a card (a wallet withdrawal; Visa Direct's original credit). Idempotent by
   * key. Test cards that decline charges decline credits too; the processor-error card fails
   * retryably, so both ends of a withdrawal can be tested.
   */
  async credit(
    token: string,
    amountMinor: bigint,
    currency: string,
    idempotencyKey: string,
  ): Promise<{ ok: true; creditId: string } | { ok: false; retryable: boolean; message: string }> {
    const done = await this.findCredit(idempotencyKey);
    if (done) return { ok: true, creditId: done.creditId };
    const card = (
      await this.db.query<{ behavior: string }>(
        'SELECT behavior FROM sandbox_tokens WHERE id = $1',
        [token],
      )
    ).rows[0];
    if (!card) return { ok: false, retryable: false, message: 'unknown card token' };
    if (card.behavior === 'processor_error')
      return { ok: false, retryable: true, message: 'processor error' };
    if (card.behavior !== 'success')
      return { ok: false, retryable: false, message: `card refused the credit: ${card.behavior}` };
    const id = newId('cre', random);
    await this.db.query(
      'INSERT INTO sandbox_credits (id, idem_key, token, amount_minor, currency, created_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (idem_key) DO NOTHING',
      [id, idempotencyKey, token, amountMinor.toString(), currency, this.clock.now()],
    );
    return { ok: true, creditId: (await this.findCredit(idempotencyKey))!.creditId };
  }

  /** The credit made under `idempotencyKey`, or null: asked before a withdrawal is given up. */
  async findCredit(idempotencyKey: string): Promise<{ creditId: string } | null> {
    const { rows } = await this.db.query<{ id: string }>(
      'SELECT id FROM sandbox_credits WHERE idem_key = $1',
      [idempotencyKey],
    );
    return rows[0] ? { creditId: rows[0].id } : null;
  }

  async statementCredit(
    token: string,
    amountMinor: bigint,
    currency: string,
    kind: 'credit' | 'reverse',
    idempotencyKey: string,
  ) {
    const id = newId('cr', random);
    await this.db.query(
      `INSERT INTO sandbox_card_credits (id, idem_key, card_token, amount_minor, currency, kind, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idem_key) DO NOTHING`,
      [id, idempotencyKey, token, amountMinor.toString(), currency, kind, this.clock.now()],
    );
    const { rows } = await this.db.query<{ id: string }>(
      'SELECT id FROM sandbox_card_credits WHERE idem_key = $1',
      [idempotencyKey],
    );
    return { ok: true, creditId: rows[0]!.id };
  }
}
