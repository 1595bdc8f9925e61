import { CHARGE_ATTEMPTS_MAX, CHARGE_RETRY_BASE_MS } from '../core/limits.ts';
import type { InputLog } from '../engine/log.ts';
import type { SandboxProcessor } from '../processors/sandbox/sandbox.ts';
import { backoffMs, oneByOne, type Deliverer } from './worker.ts';

/**
 * Credits to a card (wallet withdrawals), with the withdrawal's id as the idempotency key; the result
 * comes back into the log as `credit:<id>`, so the engine posts or voids the withdrawal's hold once.
 */
export function cardCreditDeliverer(processor: SandboxProcessor, log: InputLog): Deliverer {
  return oneByOne(async (item) => {
    const body = item.body as {
      op_id: string;
      card_token: string;
      amount: string;
      currency: string;
    };
    const key = `${body.op_id}:credit`;
    let outcome = await processor.credit(body.card_token, BigInt(body.amount), body.currency, key);
    if (!outcome.ok && outcome.retryable) {
      const retry = (error: string) => ({
        done: false as const,
        error,
        retryInMs: backoffMs(CHARGE_RETRY_BASE_MS, item.attempt),
      });
      if (item.attempt < CHARGE_ATTEMPTS_MAX) return retry(outcome.message);
      // Giving up after errors: unless an earlier attempt, killed before its answer reached the
      // log, did credit the card. Written down as failed, the withdrawal would go back to the
      // wallet with the money on the card too. No answer to the lookup: try again later.
      const found = await processor.findCredit(key).catch(() => undefined);
      if (found === undefined)
        return retry(`${outcome.message}; the credit could not be looked up`);
      if (found !== null) outcome = { ok: true, creditId: found.creditId };
    }
    await log.append([
      {
        key: `credit:${body.op_id}`,
        body: {
          kind: 'card_credit_result',
          opId: body.op_id,
          ok: outcome.ok,
          creditId: outcome.ok ? outcome.creditId : null,
          error: outcome.ok ? null : outcome.message,
        },
      },
    ]);
    return { done: true };
  });
}
