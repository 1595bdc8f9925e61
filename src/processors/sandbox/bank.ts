import { randomBytes } from 'node:crypto';
import { newId } from '../../core/codes.ts';
import type { Clock } from '../../engine/log.ts';
import type { Db } from '../../store/db.ts';

/** Where payouts go: a bank transfer to the merchant, idempotent by key. */
export interface PayoutBank {
  payout(
    merchantId: string,
    amountMinor: bigint,
    currency: string,
    idempotencyKey: string,
  ): Promise<{ ok: true; ref: string } | { ok: false; message: string }>;
  /** The payout made under `idempotencyKey`, or null: asked before a payout is given up. */
  findPayout(idempotencyKey: string): Promise<{ ref: string } | null>;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

/**
 * The sandbox bank: payouts are rows in its own table, as if another company kept them. Merchants in
 * `refusing` get their payouts refused (an account closed at the bank), so that branch can be tried.
 */
export class SandboxBank implements PayoutBank {
  readonly refusing = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async payout(merchantId: string, amountMinor: bigint, currency: string, idempotencyKey: string) {
    // A payout asked again under its key answers what the first ask did, as a bank with idempotency
    // keys does, even if the account was closed since: refusing it now would let tagpay give the
    // merchant back money the bank already paid.
    const made = await this.findPayout(idempotencyKey);
    if (made) return { ok: true as const, ref: made.ref };
    if (this.refusing.has(merchantId))
      return { ok: false as const, message: 'sandbox bank: the account is closed' };
    await this.db.query(
      `INSERT INTO sandbox_bank_payouts (id, idem_key, merchant_id, amount_minor, currency, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idem_key) DO NOTHING`,
      [
        newId('bank', random),
        idempotencyKey,
        merchantId,
        amountMinor.toString(),
        currency,
        this.clock.now(),
      ],
    );
    return { ok: true as const, ref: (await this.findPayout(idempotencyKey))!.ref };
  }

  async findPayout(idempotencyKey: string): Promise<{ ref: string } | null> {
    const { rows } = await this.db.query<{ id: string }>(
      'SELECT id FROM sandbox_bank_payouts WHERE idem_key = $1',
      [idempotencyKey],
    );
    return rows[0] ? { ref: rows[0].id } : null;
  }
}
