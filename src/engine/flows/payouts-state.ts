/**
 * Merchant payouts (DESIGN.md flow 9): payable balances moved to the merchant's bank. Pure data; the
 * decisions are in payouts.ts.
 */

export interface Payout {
  id: string;
  runId: string;
  merchantId: string;
  amountMinor: bigint;
  currency: string;
  status: 'pending' | 'paid' | 'failed';
  bankRef: string | null;
  failure: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface PayoutRun {
  id: string;
  createdAt: number;
  payouts: number;
}

export type PayoutCommand = {
  op: 'payout.run';
  /** One merchant, or every merchant with a positive payable balance. */
  merchantId: string | null;
  currency: string | null;
};

/** The bank's answer to a payout, written back by the outbox worker. Key: `payout:<payout id>`. */
export interface PayoutResultEvent {
  kind: 'payout_result';
  payoutId: string;
  ok: boolean;
  bankRef: string | null;
  error: string | null;
}

/** Payouts sent to the bank and not answered yet (few: one per merchant and currency per run). */
export class PayoutState {
  readonly pending = new Map<string, Payout>();
}

export class PayoutEffects {
  readonly runs: PayoutRun[] = [];
  readonly payouts = new Set<Payout>();
}
