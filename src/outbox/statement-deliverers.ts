import { CHARGE_ATTEMPTS_MAX, CHARGE_RETRY_BASE_MS } from '../core/limits.ts';
import type { InputLog } from '../engine/log.ts';
import type { PayoutBank } from '../processors/sandbox/bank.ts';
import type { CardProcessor } from '../processors/processor.ts';
import { backoffMs, oneByOne, type Deliverer } from './worker.ts';

/** Statement credits of card-linked offers (and their reversals), through the processor. */
export function statementCreditDeliverer(processor: CardProcessor): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as {
      credit_id: string;
      action: 'credit' | 'reverse';
      card_token: string;
      amount: string;
      currency: string;
    };
    const outcome = await processor.statementCredit(
      body.card_token,
      BigInt(body.amount),
      body.currency,
      body.action,
      item.key,
    );
    if (outcome.ok) return { done: true };
    // The ledger already holds the credit: keep asking (with backoff) rather than drop it.
    return {
      done: false,
      error: outcome.message ?? 'statement credit failed',
      retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
    };
  });
}

/** Payouts to the bank; the answer comes back into the log as `payout:<payout id>`. */
export function payoutDeliverer(bank: PayoutBank, log: InputLog): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as {
      payout_id: string;
      merchant_id: string;
      amount: string;
      currency: string;
    };
    let outcome = await bank.payout(body.merchant_id, BigInt(body.amount), body.currency, item.key);
    if (!outcome.ok) {
      const retry = (error: string) => ({
        done: false as const,
        error,
        retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
      });
      if (item.attempt < CHARGE_ATTEMPTS_MAX) return retry(outcome.message);
      // Giving up: unless an earlier attempt, killed before its answer reached the log, was paid.
      // Written down as failed, the payout would go back to the merchant's balance with the money
      // at the bank too. No answer to the lookup: try again later.
      const found = await bank.findPayout(item.key).catch(() => undefined);
      if (found === undefined)
        return retry(`${outcome.message}; the payout could not be looked up`);
      if (found !== null) outcome = { ok: true, ref: found.ref };
    }
    await log.append([
      {
        key: `payout:${body.payout_id}`,
        body: {
          kind: 'payout_result',
          payoutId: body.payout_id,
          ok: outcome.ok,
          bankRef: outcome.ok ? outcome.ref : null,
          error: outcome.ok ? null : outcome.message,
        },
      },
    ]);
    return { done: true };
  });
}
